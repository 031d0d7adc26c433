// The seed models as the tests and benchmarks build them (examples/ has the user-facing ones).
#pragma once

#include <ember/ember.hpp>

#include <cstdint>
#include <vector>

namespace test {

// The seed CNN as a user writes it: Conv2d(1, 16, 3) ReLU MaxPool2d(2) Flatten Linear(2704, 10).
template <class T = float>
struct SeedCnn {
  ember::nn::Conv2d<T> conv1{1, 16, 3};
  ember::nn::ReLU<T> relu;
  ember::nn::MaxPool2d<T> pool{2};
  ember::nn::Flatten<T> flatten;
  ember::nn::Linear<T> fc{16 * 13 * 13, 10};

  SeedCnn() { conv1.set_needs_input_grad(false); }
  const ember::Tensor<T>& forward(const ember::Tensor<T>& x) {
    return fc.forward(flatten.forward(pool.forward(relu.forward(conv1.forward(x)))));
  }
  const ember::Tensor<T>& backward(const ember::Tensor<T>& dlogits) {
    return conv1.backward(relu.backward(pool.backward(flatten.backward(fc.backward(dlogits)))));
  }
  auto named_parameters() { return ember::nn::named_parameters_of("conv1", conv1, "fc", fc); }
  auto parameters() { return ember::nn::parameters_of(*this); }
  void zero_grad() {
    conv1.zero_grad();
    fc.zero_grad();
  }
  void train(bool on = true) {
    conv1.train(on), relu.train(on), pool.train(on), flatten.train(on), fc.train(on);
  }
  void eval() { train(false); }
  bool needs_input_grad() const { return conv1.needs_input_grad(); }
};

// The same CNN written with forward() only (its backward replayed from the recorded calls).
template <class T = float>
struct SeedCnnForwardOnly : ember::nn::Module<T> {
  ember::nn::Conv2d<T> conv1{1, 16, 3};
  ember::nn::Linear<T> fc{16 * 13 * 13, 10};
  EMBER_MODULE(SeedCnnForwardOnly, conv1, fc)
  const ember::Tensor<T>& forward(const ember::Tensor<T>& x) override {
    namespace F = ember::nn::functional;
    return fc(F::flatten(F::max_pool2d(F::relu(conv1(x)), 2)));
  }
};

template <class T = float>
auto make_seed_mlp() {
  using namespace ember::nn;
  return Sequential{Flatten<T>{}, Linear<T>{784, 128}, ReLU<T>{}, Linear<T>{128, 10}};
}

template <class T = float>
auto make_lenet() {
  using namespace ember::nn;
  return Sequential{Conv2d<T>{1, 6, 5, {.padding = 2}}, ReLU<T>{}, MaxPool2d<T>{2}, Conv2d<T>{6, 16, 5}, ReLU<T>{},
                    MaxPool2d<T>{2}, Flatten<T>{}, Linear<T>{400, 120}, ReLU<T>{}, Linear<T>{120, 84}, ReLU<T>{},
                    Linear<T>{84, 10}};
}

// n made-up MNIST-shaped samples (pixels and labels from a seed), for tests that need no real data.
inline ember::data::ImageDataset fake_mnist(ember::index_t n, std::uint64_t seed = 0) {
  ember::data::ImageDataset ds;
  ds.name = "fake MNIST";
  ds.height = ds.width = 28;
  ember::Generator g(seed);
  ds.pixels.resize(static_cast<std::size_t>(n * 784));
  for (auto& p : ds.pixels) p = static_cast<std::uint8_t>(g.below(256));
  ds.labels.resize(static_cast<std::size_t>(n));
  for (auto& l : ds.labels) l = static_cast<std::uint8_t>(g.below(10));
  return ds;
}

// Trains `steps` steps (or the whole epoch) the way the examples do.
template <class Model, class Optimizer, class Loader>
void train_steps(Model& model, Optimizer& optimizer, Loader& loader, int steps) {
  static ember::nn::CrossEntropyLoss<float> criterion;  // one for all calls: its buffer is reused
  int done = 0;
  for (const auto& [images, labels] : loader) {
    if (done++ == steps) break;
    const auto& logits = ember::nn::detail::call_forward(model, images);  // model(images) for a Module
    criterion.forward(logits, labels);
    if constexpr (requires { model.zero_grad(); }) model.zero_grad();  // the model's zero_grad allocates nothing too
    optimizer.zero_grad();
    model.backward(criterion.backward());
    optimizer.step();
  }
}

// n random 1x3x3 images with labels = (sum of pixels) % 3: something small to fit and resume.
inline ember::data::ImageDataset toy_dataset(ember::index_t n = 50) {
  ember::data::ImageDataset ds;
  ds.name = "toy";
  ds.height = ds.width = 3;
  ember::Generator g(11);
  for (ember::index_t i = 0; i < n; ++i) {
    int sum = 0;
    for (int k = 0; k < 9; ++k) {
      ds.pixels.push_back(static_cast<std::uint8_t>(g.below(256)));
      sum += ds.pixels.back();
    }
    ds.labels.push_back(static_cast<std::uint8_t>(sum % 3));
  }
  return ds;
}

// A small MLP for toy_dataset.
inline auto toy_model() {
  using namespace ember::nn;
  return Sequential{Flatten{}, Linear{9, 8}, ReLU{}, Linear{8, 3}};
}

// Every parameter's values, in named_parameters() order, end to end.
template <class Model>
std::vector<float> weights_of(Model& model) {
  std::vector<float> out;
  for (auto& [name, p] : model.named_parameters()) out.insert(out.end(), p.value.data(), p.value.data() + p.value.numel());
  return out;
}

}  // namespace test

// The PyTorch MNIST MLP notebook, in C++: Flatten -> Linear(784, 128) -> ReLU -> Linear(128, 10),
// CrossEntropyLoss, Adam(lr=1e-3), batch 64 shuffled, 10 epochs. Flags give the other seeds:
//   --hidden 50            784-50-10, Adam
//   --hidden 512,256       784-512-256-10, Adam
//   --hidden 128,64 --optimizer sgd --lr 0.01   784-128-64-10, SGD
#include <cstdio>
#include <string>
#include <vector>

#include "common.hpp"

using namespace ember;

// The notebook's nn.Module: Flatten, then Linear + ReLU for each hidden size, then Linear to
// 10 classes. Parameter names follow an nn.Sequential of the same layers: 1.weight, 3.weight, ...
struct Mlp {
  nn::Flatten<> flatten;
  std::vector<nn::Linear<>> fc;  // fc[i]: Linear(sizes[i], sizes[i + 1])
  std::vector<nn::ReLU<>> relu;  // after every fc but the last

  explicit Mlp(const std::vector<int>& hidden) {
    std::vector<int> sizes = {784};
    sizes.insert(sizes.end(), hidden.begin(), hidden.end());
    sizes.push_back(10);
    for (std::size_t i = 0; i + 1 < sizes.size(); ++i) fc.emplace_back(sizes[i], sizes[i + 1]);
    relu.resize(fc.size() - 1);
    fc.front().set_needs_input_grad(false);  // the images need no gradient
  }

  const Tensor<>& forward(const Tensor<>& x) {
    const Tensor<>* h = &flatten.forward(x);
    for (std::size_t i = 0; i < relu.size(); ++i) h = &relu[i].forward(fc[i].forward(*h));
    return fc.back().forward(*h);
  }

  void backward(const Tensor<>& dlogits) {
    const Tensor<>* d = &fc.back().backward(dlogits);
    for (std::size_t i = relu.size(); i-- > 0;) d = &fc[i].backward(relu[i].backward(*d));
  }

  nn::NamedParameters<float> named_parameters() {
    nn::NamedParameters<float> out;
    for (std::size_t i = 0; i < fc.size(); ++i)
      for (auto& np : fc[i].named_parameters(std::to_string(1 + 2 * i))) out.push_back(np);
    return out;
  }
  std::vector<nn::Parameter<>*> parameters() { return nn::parameters_of(*this); }

  void train(bool on = true) {
    for (auto& l : fc) l.train(on);
    for (auto& r : relu) r.train(on);
  }
  void eval() { train(false); }
};

int main(int argc, char** argv) {
  const Flags flags = parse_flags(Example::mlp, argc, argv);
  apply_common_flags(flags);

  try {
    const std::string dir = data::mnist_dir(flags.data);
    auto train = data::Mnist::load(dir, data::Split::train);
    auto test = data::Mnist::load(dir, data::Split::test);
    data::DataLoader loader(train, {.batch_size = flags.batch_size, .shuffle = true, .seed = flags.seed});

    Mlp model(flags.hidden);
    nn::CrossEntropyLoss criterion;
    Optimizer optimizer(flags.optimizer, model.parameters(), flags.lr);  // optim::Adam or optim::SGD
    std::printf("MLP 784-");
    for (int h : flags.hidden) std::printf("%d-", h);
    std::printf("10, %s lr %g, batch %d: %lld parameters, %d threads\n", flags.optimizer.c_str(), flags.lr,
                flags.batch_size, static_cast<long long>(nn::num_parameters(model)), get_num_threads());

    for (int epoch = resume(model, optimizer, loader, flags); epoch <= flags.epochs; ++epoch) {
      Timer timer;
      double total_loss = 0;
      for (const auto& [images, labels] : loader) {
        const auto& logits = model.forward(images);
        float loss = criterion.forward(logits, labels);
        optimizer.zero_grad();
        model.backward(criterion.backward());
        optimizer.step();
        total_loss += loss;
      }
      const double seconds = timer.seconds();
      std::printf("epoch %2d  train loss %.4f  test accuracy %.2f%%  %.2f s\n", epoch,
                  total_loss / static_cast<double>(loader.size()), 100 * metrics::accuracy(model, test), seconds);
      save_epoch(model, optimizer, loader, flags, epoch);
    }
    std::printf("final test accuracy %.2f%%\n", 100 * metrics::accuracy(model, test));
  } catch (const Error& e) {
    std::fprintf(stderr, "mnist_mlp: error: %s\n", e.what());
    return 1;
  }
}

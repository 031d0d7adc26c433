// The PyTorch MNIST CNN notebook, in C++:
//   conv1 = Conv2d(1, 16, 3) -> ReLU -> MaxPool2d(2) -> flatten -> fc = Linear(16 * 13 * 13, 10)
// Adam(lr=1e-3), batch 64 shuffled, 10 epochs. --model lenet trains LeNet-5 instead.
#include <cstdio>
#include <string>

#include "common.hpp"

using namespace ember;

// The notebook's `class Net(nn.Module)`: layers as members, forward in order, backward in reverse.
struct Net : nn::Module<float> {
  nn::Conv2d<> conv1{1, 16, 3};
  nn::ReLU<> relu;
  nn::MaxPool2d<> pool{2};
  nn::Flatten<> flatten;
  nn::Linear<> fc{16 * 13 * 13, 10};

  Net() { conv1.set_needs_input_grad(false); }  // the images need no gradient

  const Tensor<>& forward(const Tensor<>& x) override {            // x: (N, 1, 28, 28)
    const auto& h = pool.forward(relu.forward(conv1.forward(x)));  // h: (N, 16, 13, 13)
    return fc.forward(flatten.forward(h));                         // logits: (N, 10)
  }
  const Tensor<>& backward(const Tensor<>& dlogits) override {
    const auto& dh = flatten.backward(fc.backward(dlogits));
    return conv1.backward(relu.backward(pool.backward(dh)));
  }
  // The state_dict: "conv1.weight", "conv1.bias", "fc.weight", "fc.bias".
  void visit_state(nn::StateVisitor<float>& v, const nn::Name* prefix = nullptr) override {
    nn::visit_state_of(v, prefix, "conv1", conv1, "fc", fc);
  }
  void train(bool on = true) override {
    nn::Module<float>::train(on);
    for (nn::Module<float>* layer : std::initializer_list<nn::Module<float>*>{&conv1, &relu, &pool, &flatten, &fc})
      layer->train(on);
  }
  void print(std::ostream& out, int = 0) const override {
    out << "Net(conv1=" << conv1 << ", relu, pool=" << pool << ", flatten, fc=" << fc << ")";
  }
};

// LeNet-5 as an nn.Sequential.
nn::Sequential<float> make_lenet() {
  return nn::Sequential{nn::Conv2d{1, 6, 5, {.padding = 2}}, nn::ReLU{}, nn::MaxPool2d{2},
                        nn::Conv2d{6, 16, 5},                nn::ReLU{}, nn::MaxPool2d{2},
                        nn::Flatten{},
                        nn::Linear{400, 120}, nn::ReLU{},
                        nn::Linear{120, 84},  nn::ReLU{},
                        nn::Linear{84, 10}};
}

void fit(nn::Module<float>& model, const Flags& flags, const data::ImageDataset& train, const data::ImageDataset& test) {
  data::DataLoader loader(train, {.batch_size = flags.batch_size, .shuffle = true, .seed = flags.seed});
  nn::CrossEntropyLoss criterion;
  auto optimizer = make_optimizer(flags.optimizer, model.parameters(), flags.lr);  // optim::Adam or optim::SGD
  std::printf("%s, %s lr %g, batch %d: %lld parameters, %d threads\n", flags.model.c_str(), flags.optimizer.c_str(),
              flags.lr, flags.batch_size, static_cast<long long>(nn::num_parameters(model)), get_num_threads());

  for (int epoch = resume(model, *optimizer, loader, flags); epoch <= flags.epochs; ++epoch) {
    Timer timer;
    double total_loss = 0;
    std::int64_t step = std::int64_t{epoch - 1} * loader.size();
    for (const auto& [images, labels] : loader) {
      const auto& logits = model.forward(images);
      float loss = criterion.forward(logits, labels);
      check_loss(loss, epoch, ++step, flags);  // nan: stop, keeping the last checkpoint
      optimizer->zero_grad();
      model.backward(criterion.backward());
      optimizer->step();
      total_loss += loss;
    }
    const double seconds = timer.seconds();
    std::printf("epoch %2d  train loss %.4f  test accuracy %.2f%%  %.2f s\n", epoch,
                total_loss / static_cast<double>(loader.size()), 100 * metrics::accuracy(model, test), seconds);
    save_epoch(model, *optimizer, loader, flags, epoch);
  }
  std::printf("final test accuracy %.2f%%\n", 100 * metrics::accuracy(model, test));
}

int main(int argc, char** argv) {
  const Flags flags = parse_flags(Example::cnn, argc, argv);
  apply_common_flags(flags);

  try {
    const std::string dir = data::mnist_dir(flags.data);
    const auto train = data::Mnist::load(dir, data::Split::train);
    const auto test = data::Mnist::load(dir, data::Split::test);
    if (flags.model == "lenet") {
      auto model = make_lenet();
      fit(model, flags, train, test);
    } else {
      Net model;
      fit(model, flags, train, test);
    }
  } catch (const Error& e) {
    std::fprintf(stderr, "mnist_cnn: error: %s\n", e.what());
    return 1;
  }
}

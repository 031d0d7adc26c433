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

// The notebook's model: Flatten, then Linear + ReLU for each hidden size, then Linear to 10
// classes, built at run time as an nn.Sequential (parameter names 1.weight, 3.weight, ...).
nn::Sequential<float> make_mlp(const std::vector<int>& hidden) {
  nn::Sequential<float> model;
  model.push_back(nn::Flatten{});
  int in = 784;
  for (int h : hidden) {
    model.push_back(nn::Linear{in, h});
    model.push_back(nn::ReLU{});
    in = h;
  }
  model.push_back(nn::Linear{in, 10});
  return model;
}

int main(int argc, char** argv) {
  const Flags flags = parse_flags(Example::mlp, argc, argv);
  apply_common_flags(flags);

  try {
    const std::string dir = data::mnist_dir(flags.data);
    auto train = data::Mnist::load(dir, data::Split::train);
    auto test = data::Mnist::load(dir, data::Split::test);
    data::DataLoader loader(train, {.batch_size = flags.batch_size, .shuffle = true, .seed = flags.seed});

    auto model = make_mlp(flags.hidden);
    nn::CrossEntropyLoss criterion;
    auto optimizer = make_optimizer(flags.optimizer, model.parameters(), flags.lr);  // optim::Adam or optim::SGD
    std::printf("MLP 784-");
    for (int h : flags.hidden) std::printf("%d-", h);
    std::printf("10, %s lr %g, batch %d: %lld parameters, %d threads\n", flags.optimizer.c_str(), flags.lr,
                flags.batch_size, static_cast<long long>(nn::num_parameters(model)), get_num_threads());

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
  } catch (const Error& e) {
    std::fprintf(stderr, "mnist_mlp: error: %s\n", e.what());
    return 1;
  }
}

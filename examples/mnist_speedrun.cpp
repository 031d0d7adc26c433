// The MNIST speedrun (tuomaso/train_mnist_fast's recipe), written as a user would: one epoch in
// file order of Conv(1,24,5)-MaxPool2-ReLU-Conv(24,32,3)-MaxPool2-ReLU-Linear(800,256)-ReLU-
// Linear(256,10)-log_softmax, Adam(lr 1e-2, betas (0.7, 0.9)), OneCycleLR(max_lr 1e-2, no
// momentum cycling), batch 256, the data preloaded as normalized floats. Prints the test accuracy
// and the wall time from the first training step to the last test prediction. Its PyTorch twin is
// bench/speedrun.py; bench/speedrun.sh runs both for five seeds.
//
//   build/examples/mnist_speedrun [--seed 0] [--epochs 1] [--threads 2] [--data DIR]
#include <chrono>
#include <cstdio>
#include <string>

#include <CLI/CLI.hpp>

#include <ember/ember.hpp>

using namespace ember;
namespace F = ember::nn::functional;

struct SpeedrunNet : nn::Module<float> {
  nn::Conv2d<> conv1{1, 24, 5}, conv2{24, 32, 3};
  nn::Linear<> fc1{800, 256}, fc2{256, 10};
  EMBER_MODULE(SpeedrunNet, conv1, conv2, fc1, fc2)

  const Tensor<>& forward(const Tensor<>& x) override {        // x: (N, 1, 28, 28)
    const auto& h = F::relu(F::max_pool2d(conv1(x), 2));       // (N, 24, 12, 12)
    const auto& z = F::relu(F::max_pool2d(conv2(h), 2));       // (N, 32, 5, 5)
    return F::log_softmax(fc2(F::relu(fc1(F::flatten(z)))), 1);  // (N, 10)
  }
};

int main(int argc, char** argv) {
  CLI::App app{"MNIST speedrun: one epoch of a small CNN, timed from the first step to the last test prediction"};
  std::uint64_t seed = 0;
  int epochs = 1, threads = 2;
  std::string data;
  app.add_option("--seed", seed, "the seed of the weights' initialisation");
  app.add_option("--epochs", epochs, "epochs of training")->check(CLI::Range(1, 100));
  app.add_option("--threads", threads, "threads")->check(CLI::Range(1, 256));
  app.add_option("--data", data, "the MNIST folder (default: $MNIST_DIR, then data/mnist)");
  CLI11_PARSE(app, argc, argv);
  set_num_threads(threads);
  set_flush_denormal(true);
  limit_eigen_l1_cache();
  manual_seed(seed);
  try {
    const std::string dir = data::mnist_dir(data);
    auto train = data::Mnist::load(dir, data::Split::train);
    auto test = data::Mnist::load(dir, data::Split::test);
    train.normalize = test.normalize = {{0.1307}, {0.3081}};
    data::DataLoader train_loader(train, {.batch_size = 256});
    data::DataLoader test_loader(test, {.batch_size = 1000});

    SpeedrunNet model;
    optim::Adam optimizer(model.parameters(), {.lr = 1e-2, .betas = {0.7, 0.9}});
    optim::OneCycleLR schedule(optimizer, 1e-2, epochs * train_loader.size(), {.cycle_momentum = false});
    nn::NLLLoss criterion;

    const auto start = std::chrono::steady_clock::now();
    for (int epoch = 0; epoch < epochs; ++epoch)
      for (const auto& [images, labels] : train_loader) {
        criterion.forward(model(images), labels);
        optimizer.zero_grad();
        model.backward(criterion.backward());
        optimizer.step();
        schedule.step();
      }
    const double accuracy = metrics::accuracy(model, test);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("seed %llu: test accuracy %.2f%%, %.2f s\n", static_cast<unsigned long long>(seed), 100 * accuracy,
                seconds);
  } catch (const Error& e) {
    std::fprintf(stderr, "mnist_speedrun: error: %s\n", e.what());
    return 1;
  }
}

// PyTorch's own MNIST example (pytorch/examples, mnist/main.py), line for line:
//   conv1 = Conv2d(1, 32, 3) -> relu -> conv2 = Conv2d(32, 64, 3) -> relu -> max_pool2d(2) ->
//   dropout1(0.25) -> flatten -> fc1 = Linear(9216, 128) -> relu -> dropout2(0.5) ->
//   fc2 = Linear(128, 10) -> log_softmax; nll_loss, Adadelta(lr=1.0), StepLR(step_size=1,
//   gamma=0.7), batch 64, test batch 1000, Normalize((0.1307,), (0.3081,)), 14 epochs.
// main.py shuffles only on CUDA (its cuda_kwargs); on the CPU, as here, it reads the training set
// in order. The PyTorch twin is bench/mnist_main.py.
#include <cstdio>
#include <string>

#include "common.hpp"

using namespace ember;

// main.py's `class Net(nn.Module)` (in a namespace: models.hpp, through common.hpp, has the seed
// notebook's Net).
namespace main_py {
namespace F = nn::functional;
struct Net : nn::Module<float> {
  nn::Conv2d<> conv1{1, 32, 3, {.stride = 1}}, conv2{32, 64, 3, {.stride = 1}};
  nn::Dropout<> dropout1{0.25}, dropout2{0.5};
  nn::Linear<> fc1{9216, 128}, fc2{128, 10};
  EMBER_MODULE(Net, conv1, conv2, dropout1, dropout2, fc1, fc2)

  const Tensor<>& forward(const Tensor<>& x) override {
    const auto& h = F::max_pool2d(F::relu(conv2(F::relu(conv1(x)))), 2);
    const auto& z = F::relu(fc1(F::flatten(dropout1(h), 1)));
    return F::log_softmax(fc2(dropout2(z)), 1);
  }
};
}  // namespace main_py

void train(const Flags& args, main_py::Net& model, data::DataLoader<>& train_loader, optim::Optimizer<float>& optimizer,
           int epoch) {
  model.train();
  nn::NLLLoss<> nll_loss;
  const auto dataset_size = static_cast<long long>(train_loader.order().size());  // len(train_loader.dataset)
  index_t batch_idx = 0;
  for (const auto& [data, target] : train_loader) {
    optimizer.zero_grad();
    const auto& output = model(data);
    const float loss = nll_loss.forward(output, target);
    model.backward(nll_loss.backward());
    optimizer.step();
    if (batch_idx % args.log_interval == 0) {
      std::printf("Train Epoch: %d [%lld/%lld (%.0f%%)]\tLoss: %.6f\n", epoch,
                  static_cast<long long>(batch_idx * data.size(0)), dataset_size,
                  100.0 * static_cast<double>(batch_idx) / static_cast<double>(train_loader.size()),
                  static_cast<double>(loss));
      std::fflush(stdout);
      if (args.dry_run) break;
    }
    ++batch_idx;
  }
}

void test(main_py::Net& model, data::DataLoader<>& test_loader) {
  model.eval();
  nn::NLLLoss<> nll_loss({.reduction = nn::Reduction::sum});
  double test_loss = 0;
  std::int64_t correct = 0;
  for (const auto& [data, target] : test_loader) {
    const auto& output = model(data);
    test_loss += static_cast<double>(nll_loss.forward(output, target));  // sum up batch loss
    const auto logp = output.matrix();
    for (index_t i = 0; i < output.size(0); ++i) {  // the index of the max log-probability
      Eigen::Index pred;
      logp.row(i).maxCoeff(&pred);
      correct += pred == target.data()[i];
    }
  }
  const auto n = static_cast<index_t>(test_loader.order().size());
  test_loss /= static_cast<double>(n);
  std::printf("\nTest set: Average loss: %.4f, Accuracy: %lld/%lld (%.0f%%)\n\n", test_loss,
              static_cast<long long>(correct), static_cast<long long>(n),
              100.0 * static_cast<double>(correct) / static_cast<double>(n));
}

int main(int argc, char** argv) {
  const Flags args = parse_flags(Example::convnet, argc, argv);
  apply_common_flags(args);  // threads, and torch.manual_seed(args.seed)

  try {
    const std::string dir = data::mnist_dir(args.data);
    auto dataset1 = data::Mnist::load(dir, data::Split::train);
    auto dataset2 = data::Mnist::load(dir, data::Split::test);
    dataset1.normalize = dataset2.normalize = {{0.1307}, {0.3081}};  // after ToTensor()
    data::DataLoader train_loader(dataset1, {.batch_size = args.batch_size});
    data::DataLoader test_loader(dataset2, {.batch_size = args.test_batch_size});

    main_py::Net model;
    optim::Adadelta optimizer(model.parameters(), {.lr = args.lr});

    optim::StepLR scheduler(optimizer, 1, args.gamma);
    for (int epoch = 1; epoch <= args.epochs; ++epoch) {
      Timer timer;
      train(args, model, train_loader, optimizer, epoch);
      const double train_seconds = timer.seconds();
      test(model, test_loader);
      scheduler.step();
      // Not in main.py: the time beside PyTorch's (bench/mnist_main.py prints the same line).
      std::printf("Epoch %d: train %.2f s, test %.2f s\n", epoch, train_seconds, timer.seconds() - train_seconds);
    }

    if (args.save_model) save_weights(model, "mnist_cnn.safetensors");
  } catch (const Error& e) {
    std::fprintf(stderr, "mnist_convnet: error: %s\n", e.what());
    return 1;
  }
}

// A model with BatchNorm and Dropout, trained on made-up MNIST-shaped data, in separate processes:
//   resume_bn_dropout straight OUT          3 epochs, then the state_dict to OUT
//   resume_bn_dropout first CKPT            1 epoch, then a checkpoint
//   resume_bn_dropout resume CKPT OUT       a fresh process: other seed, disturbed generators,
//                                           load CKPT, 2 more epochs, the state_dict to OUT
// tests/resume_bn_dropout.sh checks that both OUT files are the same bytes (weights, running
// statistics, num_batches_tracked).
#include <ember/ember.hpp>
#include <ember/io.hpp>

#include <cstdio>
#include <cstring>
#include <string>

#include "models.hpp"

using namespace ember;

namespace {

nn::Sequential<float> make_model() {
  return nn::Sequential{nn::Conv2d{1, 4, 3},  nn::BatchNorm2d{4}, nn::ReLU{},         nn::MaxPool2d{2},
                        nn::Dropout{0.25},    nn::Flatten{},      nn::Linear{676, 32}, nn::BatchNorm1d{32},
                        nn::ReLU{},           nn::Dropout{0.5},   nn::Linear{32, 10}};
}

void train_epochs(nn::Sequential<float>& model, optim::Optimizer<float>& optimizer, data::DataLoader<float>& loader,
                  int epochs) {
  for (int e = 0; e < epochs; ++e) test::train_steps(model, optimizer, loader, -1);
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  if (!((mode == "straight" && argc == 3) || (mode == "first" && argc == 3) || (mode == "resume" && argc == 4))) {
    std::fprintf(stderr, "usage: resume_bn_dropout straight OUT | first CKPT | resume CKPT OUT\n");
    return 2;
  }
  try {
    set_num_threads(2);
    const auto ds = test::fake_mnist(64 * 4 + 9, 5);
    manual_seed(mode == "resume" ? 12345 : 1);  // the resumed process starts from other weights
    if (mode == "resume")
      for (int i = 0; i < 7; ++i) default_generator().next_u64();
    auto model = make_model();
    optim::Adam optimizer(model.parameters(), {.lr = 1e-3});
    data::DataLoader loader(ds, {.batch_size = 64, .shuffle = true, .seed = mode == "resume" ? 99u : 3u});
    if (mode == "straight") {
      train_epochs(model, optimizer, loader, 3);
      io::save(model, argv[2]);
    } else if (mode == "first") {
      train_epochs(model, optimizer, loader, 1);
      io::save_checkpoint(model, optimizer, loader, loader.size(), argv[2]);
    } else {
      const std::int64_t step = io::load_checkpoint(model, optimizer, loader, argv[2]);
      std::printf("resumed at step %lld\n", static_cast<long long>(step));
      train_epochs(model, optimizer, loader, 2);
      io::save(model, argv[3]);
    }
  } catch (const Error& e) {
    std::fprintf(stderr, "resume_bn_dropout: %s\n", e.what());
    return 1;
  }
}

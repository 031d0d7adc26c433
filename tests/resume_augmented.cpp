// A run with augmentation (RandomCrop, RandomAffine, Normalize), a shuffled loader, Dropout and
// OneCycleLR stepped every batch, in separate processes:
//   resume_augmented straight OPT OUT          N steps, then a checkpoint of the end to OUT
//   resume_augmented first OPT STOP CKPT       STOP steps, a checkpoint inside the loop over the
//                                              loader right after step STOP, and stop there
//   resume_augmented resume OPT CKPT OUT       a fresh process: other weights, loader seed and
//                                              default generator, 3 steps of its own, then load
//                                              CKPT and go on to N; the end to OUT
// OPT is sgd (momentum, cycled by OneCycleLR) or adam (beta1 cycled). tests/resume_augmented.sh
// checks that both OUT files are the same bytes: the state_dict, the optimizer's state and
// options, the schedule, Dropout's generators and the loader's order, generator and epoch.
#include <ember/ember.hpp>
#include <ember/io.hpp>

#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <string>

#include "models.hpp"

using namespace ember;

namespace {

constexpr std::int64_t total_steps = 21;  // 3 epochs of 7 batches (6 of 32 samples and one of 9)

nn::Sequential<float> make_model() {
  return nn::Sequential{nn::Conv2d{1, 4, 3},       nn::ReLU{}, nn::MaxPool2d{2},     nn::Dropout{0.25},
                        nn::Flatten{},             nn::Linear{676, 32}, nn::ReLU{}, nn::Dropout{0.5},
                        nn::Linear{32, 10}};
}

std::unique_ptr<optim::Optimizer<float>> make_optimizer(const std::string& kind, nn::Sequential<float>& model) {
  if (kind == "sgd")
    return std::make_unique<optim::SGD<float>>(model.parameters(), optim::SGDOptions{.lr = 0.01, .momentum = 0.9});
  if (kind == "adam") return std::make_unique<optim::Adam<float>>(model.parameters(), optim::AdamOptions{.lr = 1e-3});
  throw Error("resume_augmented: OPT is sgd or adam, got " + kind);
}

// Trains from `step` until `until`, one schedule step per batch, calling after_step(step) inside
// the loop after each step; the loop over the loader is left right after the step that reaches
// `until` (mid-epoch or not).
std::int64_t train(nn::Sequential<float>& model, optim::Optimizer<float>& optimizer, optim::LRScheduler<float>& schedule,
                   data::DataLoader<float>& loader, std::int64_t step, std::int64_t until,
                   const std::function<void(std::int64_t)>& after_step = {}) {
  nn::CrossEntropyLoss<float> criterion;
  while (step < until) {
    for (const auto& [images, labels] : loader) {
      criterion.forward(model.forward(images), labels);
      optimizer.zero_grad();
      model.backward(criterion.backward());
      optimizer.step();
      schedule.step();
      ++step;
      if (after_step) after_step(step);
      if (step == until) break;
    }
  }
  return step;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  if (!((mode == "straight" && argc == 4) || (mode == "first" && argc == 5) || (mode == "resume" && argc == 5))) {
    std::fprintf(stderr,
                 "usage: resume_augmented straight OPT OUT | first OPT STOP CKPT | resume OPT CKPT OUT\n");
    return 2;
  }
  try {
    set_num_threads(2);
    auto ds = test::fake_mnist(6 * 32 + 9, 5);
    ds.transforms = {data::RandomCrop(28, 2), data::RandomAffine(15, {.translate = {0.1, 0.1}, .scale = {0.9, 1.1}})};
    ds.normalize = {{0.1307}, {0.3081}};
    const bool resume = mode == "resume";
    manual_seed(resume ? 12345 : 1);  // the resumed process starts from other weights
    if (resume)
      for (int i = 0; i < 7; ++i) default_generator().next_u64();
    auto model = make_model();
    auto optimizer = make_optimizer(argv[2], model);
    optim::OneCycleLR schedule(*optimizer, 0.05, total_steps);
    data::DataLoader loader(ds, {.batch_size = 32, .shuffle = true, .seed = resume ? 99u : 3u});
    if (mode == "straight") {
      train(model, *optimizer, schedule, loader, 0, total_steps);
      io::save_checkpoint(model, *optimizer, schedule, loader, total_steps, argv[3]);
    } else if (mode == "first") {
      const std::int64_t stop = std::atoll(argv[3]);
      train(model, *optimizer, schedule, loader, 0, stop, [&](std::int64_t step) {
        if (step != stop) return;
        io::save_checkpoint(model, *optimizer, schedule, loader, step, argv[4]);
        const auto epoch = loader.epoch_state();
        std::printf("checkpoint after step %lld: ", static_cast<long long>(step));
        if (epoch.next_batch < 0) std::printf("no epoch under way\n");
        else std::printf("the epoch goes on with batch %lld\n", static_cast<long long>(epoch.next_batch));
      });
    } else {
      train(model, *optimizer, schedule, loader, 0, 3);  // a loader, optimizer and schedule mid-way elsewhere
      const std::int64_t step = io::load_checkpoint(model, *optimizer, schedule, loader, argv[3]);
      std::printf("resumed at step %lld\n", static_cast<long long>(step));
      train(model, *optimizer, schedule, loader, step, total_steps);
      io::save_checkpoint(model, *optimizer, schedule, loader, total_steps, argv[4]);
    }
  } catch (const Error& e) {
    std::fprintf(stderr, "resume_augmented: %s\n", e.what());
    return 1;
  }
}

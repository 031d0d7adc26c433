// What the two MNIST examples share: their flags, the optimizer flag, --save and the epoch timer.
// Parsing the flags (CLI11, Debian libcli11-dev) and writing the weights (<ember/io.hpp>, which
// uses nlohmann-json, nlohmann-json3-dev) live in common.cpp, compiled once for both examples:
// those two libraries take longer to compile than an example itself. ember needs only Eigen.
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <iostream>
#include <map>
#include <filesystem>
#include <string>
#include <memory>
#include <vector>

#include <ember/ember.hpp>

#include "models.hpp"
#include "progress.hpp"

struct Flags {
  std::string data;  // empty: $MNIST_DIR, then data/mnist
  int epochs = 10;
  int batch_size = 64;
  double lr = 1e-3;
  std::string optimizer = "adam";
  std::vector<int> hidden = {128};
  std::string model = "seed";  // mnist_cnn: seed or lenet; mnist_mlp: mlp
  std::uint64_t seed = 0;
  int threads = 0;  // 0: all cores
  std::string save;        // empty: no file
  std::string checkpoint;  // empty: none
  std::string resume;      // empty: start afresh
  bool quiet = false;      // no progress line, no model summary: one line per epoch
  int overfit_batch = 0;   // > 0: train on one batch of this many images until the loss is near zero
  bool dry_run = false;    // one batch of everything: train, test, save
  std::string report;      // empty: no pictures (report.hpp)
  // mnist_convnet only (pytorch/examples mnist/main.py's flags)
  int test_batch_size = 1000;
  double gamma = 0.7;
  int log_interval = 10;
  bool save_model = false;
};

enum class Example { mlp, cnn, convnet };

// Parses argv into the flags `example` takes; on a bad flag prints one line naming it and exits
// with 2 (--help prints them all and exits with 0).
Flags parse_flags(Example example, int argc, char** argv);

inline void apply_common_flags(const Flags& f) {
  if (f.threads > 0) ember::set_num_threads(f.threads);
  ember::set_flush_denormal(true);  // see docs/performance.md: denormals slow Adam's later epochs
  ember::limit_eigen_l1_cache();     // see docs/design.md: Eigen's GEMM blocking on 48 KB L1 caches
  ember::manual_seed(f.seed);
}

// --optimizer adam|sgd: either is an optim::Optimizer<float>, so the training loop reads like the
// notebook's whichever was chosen.
inline std::unique_ptr<ember::optim::Optimizer<float>> make_optimizer(const std::string& name,
                                                                     std::vector<ember::nn::Parameter<float>*> params,
                                                                     double lr) {
  if (name == "sgd") return std::make_unique<ember::optim::SGD<float>>(params, ember::optim::SGDOptions{.lr = lr});
  return std::make_unique<ember::optim::Adam<float>>(params, ember::optim::AdamOptions{.lr = lr});
}

// Written in common.cpp (<ember/io.hpp>) for the examples' float models: io::save, and
// io::save_checkpoint / io::load_checkpoint.
void save_weights(ember::nn::Module<float>& model, const std::string& path,
                  const std::map<std::string, std::string>& metadata = {});
void save_checkpoint(ember::nn::Module<float>& model, ember::optim::Optimizer<float>& optimizer,
                     ember::data::DataLoader<float>& loader, std::int64_t step, const std::string& path);
std::int64_t load_checkpoint(ember::nn::Module<float>& model, ember::optim::Optimizer<float>& optimizer,
                             ember::data::DataLoader<float>& loader, const std::string& path);

// --resume: loads the checkpoint and returns the epoch to go on with (1 without --resume).
inline int resume(ember::nn::Module<float>& model, ember::optim::Optimizer<float>& optimizer,
                  ember::data::DataLoader<float>& loader, const Flags& f) {
  if (f.resume.empty()) return 1;
  const std::int64_t step = load_checkpoint(model, optimizer, loader, f.resume);
  const int done = static_cast<int>(step / loader.size());
  std::printf("resumed from %s after epoch %d\n", f.resume.c_str(), done);
  return done + 1;
}

// --save and --checkpoint after an epoch (both files are replaced atomically).
inline void save_epoch(ember::nn::Module<float>& model, ember::optim::Optimizer<float>& optimizer,
                       ember::data::DataLoader<float>& loader, const Flags& f, int epoch) {
  // The metadata names the model for predict (the examples train without Normalize, as the notebooks).
  if (!f.save.empty()) save_weights(model, f.save, model_metadata(f.model, f.hidden, {}));
  if (!f.checkpoint.empty()) save_checkpoint(model, optimizer, loader, std::int64_t{epoch} * loader.size(), f.checkpoint);
  if (epoch == f.epochs && !f.save.empty()) std::printf("weights saved to %s\n", f.save.c_str());
}

// The model's layers, shapes and sizes before training (torchinfo's table), unless --quiet.
inline void print_summary(ember::nn::Module<float>& model, const Flags& f) {
  if (!f.quiet) std::cout << ember::nn::summary(model, {1, 1, 28, 28}) << std::flush;
}

// The line that ends an epoch (after the progress line, or alone when it is off).
inline std::string epoch_summary(int epoch, double train_loss, double test_accuracy, double seconds) {
  char buf[128];
  std::snprintf(buf, sizeof buf, "epoch %2d  train loss %.4f  test accuracy %.2f%%  %.2f s", epoch, train_loss,
                100 * test_accuracy, seconds);
  return buf;
}

// The progress line of --epochs: redrawn on a terminal, off with --quiet or in a pipe.
inline progress::Bar make_progress(const Flags& f) { return progress::Bar(stdout, !f.quiet && progress::is_terminal(stdout)); }

// The first n samples of a dataset (--dry-run tests on one batch).
inline ember::data::ImageDataset head(const ember::data::ImageDataset& ds, ember::index_t n) {
  n = std::min(n, ds.size());
  ember::data::ImageDataset out{ds.name, ds.channels, ds.height, ds.width, {}, {}, ds.normalize};
  out.pixels.assign(ds.pixels.begin(), ds.pixels.begin() + n * ds.image_numel());
  out.labels.assign(ds.labels.begin(), ds.labels.begin() + n);
  return out;
}

// --overfit-batch N: trains on the first N training images until the mean loss is below 1e-3 (at
// most 2,000 steps), printing the loss now and then; 0 when it got there. A model and a backward
// that are wired right fit one small batch exactly: the quickest check there is.
inline int overfit_batch(ember::nn::Module<float>& model, ember::optim::Optimizer<float>& optimizer,
                         const ember::data::ImageDataset& train, int n) {
  const auto batch = head(train, n);
  ember::data::DataLoader loader(batch, {.batch_size = n});
  const auto& [images, labels] = *loader.begin();
  ember::nn::CrossEntropyLoss criterion;
  constexpr double target = 1e-3;
  constexpr int max_steps = 2000;
  std::printf("overfitting one batch of %lld images (until loss < %g, at most %d steps)\n",
              static_cast<long long>(batch.size()), target, max_steps);
  float loss = 0;
  int step = 1;
  for (int next_print = 1; step <= max_steps; ++step) {
    loss = criterion.forward(model(images), labels);
    if (step == next_print || loss < target) {
      std::printf("  step %4d  loss %.6f\n", step, loss);
      next_print = next_print * 2;
    }
    if (loss < target) break;
    optimizer.zero_grad();
    model.backward(criterion.backward());
    optimizer.step();
  }
  if (loss < target) {
    std::printf("loss %.6f < %g after %d steps: the model can fit a batch\n", loss, target, step);
    return 0;
  }
  std::printf("loss %.6f is still >= %g after %d steps: check the model's layers and backward\n", loss, target,
              max_steps);
  return 1;
}

// The end of --dry-run: the weights saved (to a temporary file without --save) are loaded back
// into the model their metadata names. Returns 0 (a failure throws ember::Error).
int dry_run_save(ember::nn::Module<float>& model, const Flags& f);

// A loss that is not finite (nan or inf) stops the run with an ember::Error naming the epoch and
// the step (counted from the start of training, as checkpoints count them); nothing more is
// saved, so the last checkpoint and --save file stay those of the last good epoch.
inline void check_loss(float loss, int epoch, std::int64_t step, const Flags& f) {
  if (std::isfinite(loss)) return;
  const std::string kept = f.checkpoint.empty()                   ? "no --checkpoint was given"
                           : std::filesystem::exists(f.checkpoint) ? "the last checkpoint " + f.checkpoint + " is kept"
                                                                   : "no checkpoint was saved yet";
  throw ember::Error(ember::detail::concat("loss is ", std::isnan(loss) ? "nan" : "inf", " at epoch ", epoch, ", step ",
                                           step, "; ", kept));
}

// Seconds since construction.
class Timer {
 public:
  double seconds() const { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count(); }

 private:
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

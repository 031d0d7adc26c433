// What the two MNIST examples share: their flags, the optimizer flag, --save and the epoch timer.
// Parsing the flags (CLI11, Debian libcli11-dev) and writing the weights (<ember/io.hpp>, which
// uses nlohmann-json, nlohmann-json3-dev) live in common.cpp, compiled once for both examples:
// those two libraries take longer to compile than an example itself. ember needs only Eigen.
#pragma once

#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>
#include <memory>
#include <vector>

#include <ember/ember.hpp>

struct Flags {
  std::string data;  // empty: $MNIST_DIR, then data/mnist
  int epochs = 10;
  int batch_size = 64;
  double lr = 1e-3;
  std::string optimizer = "adam";
  std::vector<int> hidden = {128};
  std::string model = "seed";
  std::uint64_t seed = 0;
  int threads = 0;  // 0: all cores
  std::string save;        // empty: no file
  std::string checkpoint;  // empty: none
  std::string resume;      // empty: start afresh
};

enum class Example { mlp, cnn };

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
void save_weights(ember::nn::Module<float>& model, const std::string& path);
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
  if (!f.save.empty()) save_weights(model, f.save);
  if (!f.checkpoint.empty()) save_checkpoint(model, optimizer, loader, std::int64_t{epoch} * loader.size(), f.checkpoint);
  if (epoch == f.epochs && !f.save.empty()) std::printf("weights saved to %s\n", f.save.c_str());
}

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

// What the two MNIST examples share: their flags, the optimizer flag, --save and the epoch timer.
// Parsing the flags (CLI11, Debian libcli11-dev) and writing the weights (<ember/io.hpp>, which
// uses nlohmann-json, nlohmann-json3-dev) live in common.cpp, compiled once for both examples:
// those two libraries take longer to compile than an example itself. ember needs only Eigen.
#pragma once

#include <chrono>
#include <cstdio>
#include <string>
#include <variant>
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
  ember::manual_seed(f.seed);
}

// --optimizer adam|sgd as one object with zero_grad() and step(), so the training loop reads
// like the notebook's.
class Optimizer {
 public:
  Optimizer(const std::string& name, std::vector<ember::nn::Parameter<float>*> params, double lr)
      : impl_(name == "sgd" ? Impl(ember::optim::SGD<float>(params, {.lr = lr}))
                            : Impl(ember::optim::Adam<float>(params, {.lr = lr}))) {}
  void zero_grad() {
    std::visit([](auto& o) { o.zero_grad(); }, impl_);
  }
  void step() {
    std::visit([](auto& o) { o.step(); }, impl_);
  }
  template <class F>
  void visit(F&& f) {
    std::visit(f, impl_);
  }

 private:
  using Impl = std::variant<ember::optim::SGD<float>, ember::optim::Adam<float>>;
  Impl impl_;
};

// Written in common.cpp (<ember/io.hpp>) for the examples' float models: io::save, and
// io::save_checkpoint / io::load_checkpoint with whichever optimizer --optimizer chose.
void save_weights(const ember::nn::NamedParameters<float>& params, const std::string& path);
void save_checkpoint(const ember::nn::NamedParameters<float>& params, Optimizer& optimizer,
                     ember::data::DataLoader<float>& loader, std::int64_t step, const std::string& path);
std::int64_t load_checkpoint(const ember::nn::NamedParameters<float>& params, Optimizer& optimizer,
                             ember::data::DataLoader<float>& loader, const std::string& path);

// --resume: loads the checkpoint and returns the epoch to go on with (1 without --resume).
template <class Model>
int resume(Model& model, Optimizer& optimizer, ember::data::DataLoader<float>& loader, const Flags& f) {
  if (f.resume.empty()) return 1;
  const std::int64_t step = load_checkpoint(model.named_parameters(), optimizer, loader, f.resume);
  const int done = static_cast<int>(step / loader.size());
  std::printf("resumed from %s after epoch %d\n", f.resume.c_str(), done);
  return done + 1;
}

// --save and --checkpoint after an epoch (both files are replaced atomically).
template <class Model>
void save_epoch(Model& model, Optimizer& optimizer, ember::data::DataLoader<float>& loader, const Flags& f,
                int epoch) {
  if (!f.save.empty()) save_weights(model.named_parameters(), f.save);
  if (!f.checkpoint.empty())
    save_checkpoint(model.named_parameters(), optimizer, loader, std::int64_t{epoch} * loader.size(), f.checkpoint);
  if (epoch == f.epochs && !f.save.empty()) std::printf("weights saved to %s\n", f.save.c_str());
}

// Seconds since construction.
class Timer {
 public:
  double seconds() const { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count(); }

 private:
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

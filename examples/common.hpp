// What the two MNIST examples share: their flags, finding the data, and the epoch timer.
// Flags are parsed with CLI11 (Debian libcli11-dev), and --save writes safetensors through
// <ember/io.hpp>, which uses nlohmann-json (nlohmann-json3-dev); ember's core needs only Eigen.
#pragma once

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <variant>
#include <vector>

#include <CLI/CLI.hpp>

#include <ember/ember.hpp>
#include <ember/io.hpp>

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
  std::string save;  // empty: no file
};

// Adds the flags both examples take; `extra` adds an example's own.
inline void add_common_flags(CLI::App& app, Flags& f) {
  app.add_option("--data", f.data, "folder with the four MNIST IDX files (default: $MNIST_DIR, then data/mnist)");
  app.add_option("--epochs", f.epochs, "training epochs")->check(CLI::Range(1, 1 << 30))->capture_default_str();
  app.add_option("--batch-size", f.batch_size, "samples per batch")->check(CLI::Range(1, 1 << 30))->capture_default_str();
  app.add_option("--lr", f.lr, "learning rate")->check(CLI::Range(0.0, 1e6))->capture_default_str();
  app.add_option("--optimizer", f.optimizer, "sgd or adam")->check(CLI::IsMember({"sgd", "adam"}))->capture_default_str();
  app.add_option("--seed", f.seed, "seed of the weights and of the shuffling")->capture_default_str();
  app.add_option("--threads", f.threads, "threads (0: all cores)")->check(CLI::Range(0, 1024))->capture_default_str();
  app.add_option("--save", f.save,
                 "after every epoch, write the weights to this safetensors file, named as the PyTorch "
                 "model's state_dict (replaced atomically: an interrupted run keeps the last epoch's)")
      ->check([](const std::string& path) -> std::string {  // fail now, not after the first epoch
        const auto folder = std::filesystem::path(path).parent_path();
        if (std::filesystem::path(path).filename().empty()) return "needs a file name, got " + path;
        if (!folder.empty() && !std::filesystem::is_directory(folder))
          return "the folder " + folder.string() + " does not exist";
        return {};
      });
}

// --save: the weights after this epoch (io::save replaces the file atomically).
template <class Model>
void save_epoch(Model& model, const Flags& f, int epoch) {
  if (f.save.empty()) return;
  ember::io::save(model, f.save);
  if (epoch == f.epochs) std::printf("weights saved to %s\n", f.save.c_str());
}

// Parses argv; on a bad flag prints one line naming it and exits with 2.
inline void parse_flags(CLI::App& app, int argc, char** argv) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {
    std::exit(app.exit(e));
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "%s: error: %s (run with --help for the flags)\n", app.get_name().c_str(), e.what());
    std::exit(2);
  }
}

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

 private:
  using Impl = std::variant<ember::optim::SGD<float>, ember::optim::Adam<float>>;
  Impl impl_;
};

// Seconds since construction.
class Timer {
 public:
  double seconds() const { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count(); }

 private:
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

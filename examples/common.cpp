// The examples' flags (CLI11), and --save, --checkpoint and --resume (ember::io), compiled once for
// both examples; see common.hpp.
#include "common.hpp"

#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include <CLI/CLI.hpp>

#include <ember/io.hpp>

namespace {

// The flags both examples take.
void add_common_flags(CLI::App& app, Flags& f) {
  app.add_option("--data", f.data, "folder with the four MNIST IDX files (default: $MNIST_DIR, then data/mnist)");
  app.add_option("--epochs", f.epochs, "training epochs")->check(CLI::Range(1, 1 << 30))->capture_default_str();
  app.add_option("--batch-size", f.batch_size, "samples per batch")->check(CLI::Range(1, 1 << 30))->capture_default_str();
  app.add_option("--lr", f.lr, "learning rate")->check(CLI::Range(0.0, 1e30))->capture_default_str();
  app.add_option("--optimizer", f.optimizer, "sgd or adam")->check(CLI::IsMember({"sgd", "adam"}))->capture_default_str();
  app.add_option("--seed", f.seed, "seed of the weights and of the shuffling")->capture_default_str();
  app.add_option("--threads", f.threads, "threads (0: all cores)")->check(CLI::Range(0, 1024))->capture_default_str();
  const auto writable = [](const std::string& path) -> std::string {  // fail now, not after an epoch
    const auto folder = std::filesystem::path(path).parent_path();
    if (std::filesystem::path(path).filename().empty()) return "needs a file name, got " + path;
    if (!folder.empty() && !std::filesystem::is_directory(folder))
      return "the folder " + folder.string() + " does not exist";
    return {};
  };
  app.add_option("--save", f.save,
                 "after every epoch, write the weights to this safetensors file, named as the PyTorch "
                 "model's state_dict (replaced atomically: an interrupted run keeps the last epoch's)")
      ->check(writable);
  app.add_option("--checkpoint", f.checkpoint,
                 "after every epoch, write a checkpoint to this file: weights, optimizer state, loader "
                 "order and generator, step")
      ->check(writable);
  app.add_option("--resume", f.resume,
                 "start from this checkpoint and train up to --epochs in all; the checkpoint's optimizer "
                 "options (lr, ...) win over the flags, as torch's load_state_dict")
      ->check(CLI::ExistingFile);
}

}  // namespace

Flags parse_flags(Example example, int argc, char** argv) {
  const bool mlp = example == Example::mlp;
  CLI::App app{mlp ? "Train an MLP on MNIST, as the PyTorch notebook does" : "Train a CNN on MNIST, as the PyTorch notebook does",
               mlp ? "mnist_mlp" : "mnist_cnn"};
  Flags flags;
  add_common_flags(app, flags);
  if (mlp)
    app.add_option("--hidden", flags.hidden, "hidden layer sizes, e.g. 128,64")->delimiter(',')->check(CLI::Range(1, 1 << 30));
  else
    app.add_option("--model", flags.model, "seed (Conv2d(1,16,3) ReLU MaxPool2d(2) Linear(2704,10)) or lenet")
        ->check(CLI::IsMember({"seed", "lenet"}))
        ->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {
    std::exit(app.exit(e));
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "%s: error: %s (run with --help for the flags)\n", app.get_name().c_str(), e.what());
    std::exit(2);
  }
  return flags;
}

void save_weights(ember::nn::Module<float>& model, const std::string& path) { ember::io::save(model, path); }

void save_checkpoint(ember::nn::Module<float>& model, ember::optim::Optimizer<float>& optimizer,
                     ember::data::DataLoader<float>& loader, std::int64_t step, const std::string& path) {
  ember::io::save_checkpoint(model, optimizer, loader, step, path);
}

std::int64_t load_checkpoint(ember::nn::Module<float>& model, ember::optim::Optimizer<float>& optimizer,
                             ember::data::DataLoader<float>& loader, const std::string& path) {
  return ember::io::load_checkpoint(model, optimizer, loader, path);
}

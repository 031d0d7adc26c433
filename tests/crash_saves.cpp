// Checkpoint saves killed at random moments (tests/crash_saves.sh sends kill -9):
//   crash_saves save DIR FIRST [COUNT]  saves DIR/run.ckpt over and over (COUNT times, default
//                                  forever) with steps FIRST, FIRST + 1, ...: save k holds step k,
//                                  every weight and bias equal to k and the order rotated by k
//   crash_saves check DIR          loads DIR/run.ckpt, checks it is one whole save (every value
//                                  equal to its step), counts the temporary files killed saves
//                                  left, saves once more, and checks that only run.ckpt is left;
//                                  prints "<step> <temporaries before>"
#include <ember/ember.hpp>
#include <ember/io.hpp>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

using namespace ember;

namespace {

struct Run {
  data::ImageDataset dataset;
  nn::Sequential<float> model{nn::Flatten{}, nn::Linear{64, 512}, nn::ReLU{}, nn::Linear{512, 512}};
  std::unique_ptr<optim::SGD<float>> sgd;
  std::unique_ptr<data::DataLoader<float>> loader;

  Run() {
    dataset.name = "crash";
    dataset.height = dataset.width = 8;
    dataset.pixels.assign(64 * 64, 0);
    dataset.labels.assign(64, 0);
    sgd = std::make_unique<optim::SGD<float>>(model.parameters(), optim::SGDOptions{.lr = 0.1});
    loader = std::make_unique<data::DataLoader<float>>(dataset, data::DataLoaderOptions{.batch_size = 8});
  }
  // Every weight and bias = k; the loader's order is rotated by k (a permutation that names k).
  void set(std::int64_t k) {
    for (auto* p : model.parameters()) p->value.fill(static_cast<float>(k));
    std::vector<index_t> order(64);
    for (index_t i = 0; i < 64; ++i) order[static_cast<std::size_t>(i)] = (i + k) % 64;
    loader->set_order(order);
  }
  // The k all the state agrees on, or -1.
  std::int64_t agreed(std::int64_t step) {
    for (auto* p : model.parameters())
      for (index_t i = 0; i < p->value.numel(); ++i)
        if (p->value.data()[i] != static_cast<float>(step)) return -1;
    if (loader->order()[0] != step % 64) return -1;
    return step;
  }
};

int count_temporaries(const std::filesystem::path& dir) {
  int n = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) n += e.path().filename() != "run.ckpt";
  return n;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 2 ? argv[1] : "";
  if (!(mode == "save" && argc > 3) && !(mode == "check" && argc == 3)) {
    std::fprintf(stderr, "usage: crash_saves save DIR FIRST [COUNT] | check DIR\n");
    return 2;
  }
  const std::filesystem::path dir = argv[2], path = dir / "run.ckpt";
  try {
    Run run;
    if (mode == "save") {
      const long first = std::stol(argv[3]), count = argc > 4 ? std::stol(argv[4]) : -1;
      for (long k = first; count < 0 || k < first + count; ++k) {
        run.set(k);
        io::save_checkpoint(run.model, *run.sgd, *run.loader, k, path);
      }
      return 0;
    }
    const std::int64_t step = io::load_checkpoint(run.model, *run.sgd, *run.loader, path);
    if (run.agreed(step) != step) {
      std::fprintf(stderr, "crash_saves: %s holds step %lld but values of another save\n", path.c_str(),
                   static_cast<long long>(step));
      return 1;
    }
    const int temporaries = count_temporaries(dir);
    run.set(step + 1);
    io::save_checkpoint(run.model, *run.sgd, *run.loader, step + 1, path);
    if (const int left = count_temporaries(dir); left != 0) {
      std::fprintf(stderr, "crash_saves: %d other files are left next to %s after a save\n", left, path.c_str());
      return 1;
    }
    std::printf("%lld %d\n", static_cast<long long>(step), temporaries);
    return 0;
  } catch (const Error& e) {
    std::fprintf(stderr, "crash_saves: error: %s\n", e.what());
    return 1;
  }
}

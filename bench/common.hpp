// What the benchmarks share: real MNIST batches when MNIST_DIR is set (random images otherwise),
// the seed models, and FLOP counters.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <optional>

#include <benchmark/benchmark.h>

#include <ember/ember.hpp>

namespace bench {

using namespace ember;

// MNIST train split, loaded once; nullopt without MNIST_DIR.
inline const std::optional<data::ImageDataset>& mnist_train() {
  static const std::optional<data::ImageDataset> ds = []() -> std::optional<data::ImageDataset> {
    const char* dir = std::getenv("MNIST_DIR");
    if (!dir || !std::filesystem::exists(std::filesystem::path(dir) / "train-labels-idx1-ubyte")) {
      std::fprintf(stderr, "bench: MNIST_DIR not set: data-dependent kernels use random images\n");
      return std::nullopt;
    }
    return data::Mnist::load(dir, data::Split::train);
  }();
  return ds;
}

// A batch of the first `batch` training images (N, 1, 28, 28) in [0, 1], with labels.
struct Batch {
  Tensor<float> images;
  Tensor<std::int64_t> labels;
};
inline Batch mnist_batch(index_t batch) {
  Batch b{Tensor<float>({batch, 1, 28, 28}), Tensor<std::int64_t>({batch})};
  if (const auto& ds = mnist_train()) {
    data::DataLoader loader(*ds, {.batch_size = batch});
    const auto& first = *loader.begin();
    b.images = first.images;
    b.labels = first.labels;
  } else {
    Generator g(0);
    for (index_t i = 0; i < b.images.numel(); ++i) b.images.data()[i] = static_cast<float>(g.uniform());
    for (index_t i = 0; i < batch; ++i) b.labels(i) = static_cast<std::int64_t>(g.below(10));
  }
  return b;
}

inline Tensor<float> random_tensor(const Shape& s, std::uint64_t seed = 1) {
  Generator g(seed);
  Tensor<float> t(s);
  for (index_t i = 0; i < t.numel(); ++i) t.data()[i] = static_cast<float>(g.normal());
  return t;
}

// Rates: FLOP per iteration -> FLOP/s; bytes per iteration -> bytes/s.
inline void set_flops(benchmark::State& state, double flop_per_iteration) {
  state.counters["FLOP/s"] = benchmark::Counter(flop_per_iteration, benchmark::Counter::kIsIterationInvariantRate);
}
inline void set_bytes(benchmark::State& state, double bytes_per_iteration) {
  state.SetBytesProcessed(static_cast<int64_t>(bytes_per_iteration * static_cast<double>(state.iterations())));
}

// The MNIST training set, or 60,000 random images without MNIST_DIR (for whole-epoch timings).
inline const data::ImageDataset& train_set() {
  static const data::ImageDataset ds = [] {
    if (const auto& real = mnist_train()) return *real;
    data::ImageDataset fake;
    fake.height = fake.width = 28;
    Generator g(0);
    for (int i = 0; i < 60000 * 784; ++i) fake.pixels.push_back(static_cast<std::uint8_t>(g.below(256)));
    for (int i = 0; i < 60000; ++i) fake.labels.push_back(static_cast<std::uint8_t>(g.below(10)));
    return fake;
  }();
  return ds;
}

// Threads from EMBER_THREADS (default 2, the comparison's setting), set once.
inline void setup_threads() {
  static const bool done = [] {
    const char* t = std::getenv("EMBER_THREADS");
    set_num_threads(t ? std::atoi(t) : 2);
    set_flush_denormal(true);  // as the examples train
    limit_eigen_l1_cache();    // as the examples do
    return true;
  }();
  (void)done;
}

}  // namespace bench

// What the benchmarks share: real MNIST batches when MNIST_DIR is set (random images otherwise),
// the seed models, and FLOP counters.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <optional>

#include <benchmark/benchmark.h>

#include <ember/ember.hpp>
#include <ember/kernels/simd.hpp>

#include <algorithm>
#include <chrono>

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

// The float32 multiply-add peak: 16 independent chains of packet multiply-adds (the flags'
// instruction set: Eigen's packets) per thread. No memory traffic; an upper bound no GEMM reaches.
namespace peak {
using Packet = ember::kernels::simd::Packet<float>;
constexpr int kChains = 16;  // > FMA latency x FMA ports (4 x 2 on current x86 cores)
constexpr long kSteps = 1 << 16;

inline float fma_chains() {
  using Eigen::internal::pmadd;
  using Eigen::internal::pset1;
  Packet acc[kChains];
  for (int c = 0; c < kChains; ++c) acc[c] = pset1<Packet>(1.0f + 0.001f * static_cast<float>(c));
  const Packet a = pset1<Packet>(0.999999f), b = pset1<Packet>(1e-7f);
  for (long s = 0; s < kSteps; ++s)
    for (int c = 0; c < kChains; ++c) acc[c] = pmadd(acc[c], a, b);
  float sum = 0;
  for (int c = 0; c < kChains; ++c) sum += Eigen::internal::predux(acc[c]);
  return sum;
}

// FLOP/s on the benchmarks' thread count, the best of 20 runs, measured once per process.
inline double flops_all_threads() {
  static const double flops = [] {
    setup_threads();
    const int used = get_num_threads();
    double best = 0;
    for (int run = 0; run < 20; ++run) {
      const auto start = std::chrono::steady_clock::now();
#pragma omp parallel num_threads(used)
      benchmark::DoNotOptimize(fma_chains());
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      best = std::max(best, 2.0 * kChains * kSteps * ember::kernels::simd::lanes<float> * used / seconds);
    }
    return best;
  }();
  return flops;
}
}  // namespace peak

// An epoch's FLOP floor beside its time: a training step of a sample costs about 3 x its forward
// multiply-adds (forward, dweight, dinput; the first layer skips dinput), 2 FLOP each, so the
// epoch's FLOPs over the peak above is the time no implementation on this CPU can beat.
template <class Model>
void set_flop_floor(benchmark::State& state, Model& model, index_t samples) {
  const double flops = 6.0 * static_cast<double>(nn::summary(model, {1, 1, 28, 28}).mult_adds) * static_cast<double>(samples);
  const double floor = flops / peak::flops_all_threads();
  state.counters["floor_s"] = floor;
}

}  // namespace bench

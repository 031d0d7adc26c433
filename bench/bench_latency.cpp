// Inference latency: model.eval(), one thread, one call of the model on a batch of 1, 8 or 64
// MNIST images, each call timed; reports the median (p50) and the 99th percentile (p99) in
// microseconds. The seed MLP is a Sequential; the seed CNN is written with forward() only.
#include <algorithm>
#include <chrono>
#include <vector>

#include "common.hpp"
#include "models.hpp"  // tests/support: the seed CNN written with forward() only

namespace {
using namespace bench;

template <class Model>
void latency(benchmark::State& state, Model& model) {
  set_num_threads(1);
  model.eval();
  const auto x = mnist_batch(state.range(0)).images;
  std::vector<double> us;
  us.reserve(1 << 20);
  for (auto _ : state) {
    const auto t0 = std::chrono::steady_clock::now();
    benchmark::DoNotOptimize(model(x).data());
    us.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(us.begin(), us.end());
  state.counters["p50_us"] = us[us.size() / 2];
  state.counters["p99_us"] = us[us.size() * 99 / 100];
}

void latency_mlp(benchmark::State& state) {
  manual_seed(0);
  nn::Sequential model{nn::Flatten{}, nn::Linear{784, 128}, nn::ReLU{}, nn::Linear{128, 10}};
  latency(state, model);
}
void latency_cnn(benchmark::State& state) {
  manual_seed(0);
  test::SeedCnnForwardOnly<> model;
  latency(state, model);
}
}  // namespace

BENCHMARK(latency_mlp)->Name("latency/mlp_784_128_10")->ArgName("batch")->Arg(1)->Arg(8)->Arg(64)->Unit(benchmark::kMicrosecond);
BENCHMARK(latency_cnn)->Name("latency/cnn_seed")->ArgName("batch")->Arg(1)->Arg(8)->Arg(64)->Unit(benchmark::kMicrosecond);

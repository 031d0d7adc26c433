// Linear(784, 128), the seed MLP's first layer, at batch 64, 256 and 1024.
#include "common.hpp"

namespace {
using namespace bench;

void linear_forward(benchmark::State& state) {
  setup_threads();
  const index_t batch = state.range(0);
  manual_seed(0);
  nn::Linear<float> layer(784, 128);
  const auto images = mnist_batch(batch).images;
  const auto x = images.reshape({batch, 784});
  for (auto _ : state) benchmark::DoNotOptimize(layer.forward(x).data());
  set_flops(state, 2.0 * batch * 784 * 128);
}

// As the first layer trains: forward, then backward without dx.
void linear_forward_backward(benchmark::State& state) {
  setup_threads();
  const index_t batch = state.range(0);
  manual_seed(0);
  nn::Linear<float> layer(784, 128);
  layer.set_needs_input_grad(false);
  const auto images = mnist_batch(batch).images;
  const auto x = images.reshape({batch, 784});
  const auto dy = random_tensor({batch, 128});
  for (auto _ : state) {
    layer.forward(x);
    benchmark::DoNotOptimize(layer.backward(dy).data());
  }
  set_flops(state, 2 * 2.0 * batch * 784 * 128);
}
}  // namespace

BENCHMARK(linear_forward)->Name("linear_784_128/forward")->ArgName("batch")->Arg(64)->Arg(256)->Arg(1024)->Unit(benchmark::kMicrosecond);
BENCHMARK(linear_forward_backward)->Name("linear_784_128/forward_backward")->ArgName("batch")->Arg(64)->Arg(256)->Arg(1024)->Unit(benchmark::kMicrosecond);

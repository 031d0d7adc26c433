// Conv2d(1, 16, 3) on MNIST images and MaxPool2d(2) / ReLU on its (N, 16, 26, 26) activations.
#include "common.hpp"

namespace {
using namespace bench;

constexpr double conv_flop(index_t batch) { return 2.0 * batch * 16 * 26 * 26 * 9; }

void conv_forward(benchmark::State& state) {
  setup_threads();
  const index_t batch = state.range(0);
  manual_seed(0);
  nn::Conv2d<float> conv(1, 16, 3);
  const auto x = mnist_batch(batch).images;
  for (auto _ : state) benchmark::DoNotOptimize(conv.forward(x).data());
  set_flops(state, conv_flop(batch));
}

// As the first layer trains: no dx.
void conv_forward_backward(benchmark::State& state) {
  setup_threads();
  const index_t batch = state.range(0);
  manual_seed(0);
  nn::Conv2d<float> conv(1, 16, 3);
  conv.set_needs_input_grad(false);
  const auto x = mnist_batch(batch).images;
  const auto dy = random_tensor({batch, 16, 26, 26});
  for (auto _ : state) {
    conv.forward(x);
    benchmark::DoNotOptimize(conv.backward(dy).data());
  }
  set_flops(state, 2 * conv_flop(batch));
}

// The seed CNN's real activations: conv(images), before (relu) or after (pool) the ReLU.
Tensor<float> conv_output(index_t batch, bool relu) {
  manual_seed(0);
  nn::Conv2d<float> conv(1, 16, 3);
  nn::ReLU<float> r;
  const auto x = mnist_batch(batch).images;
  return relu ? Tensor<float>(r.forward(conv.forward(x))) : Tensor<float>(conv.forward(x));
}

void maxpool_forward(benchmark::State& state) {
  setup_threads();
  const index_t batch = state.range(0);
  const auto x = conv_output(batch, true);
  nn::MaxPool2d<float> pool(2);
  for (auto _ : state) benchmark::DoNotOptimize(pool.forward(x).data());
  set_bytes(state, x.numel() * 4.0 * 1.25);
}

void maxpool_forward_backward(benchmark::State& state) {
  setup_threads();
  const index_t batch = state.range(0);
  const auto x = conv_output(batch, true);
  const auto dy = random_tensor({batch, 16, 13, 13});
  nn::MaxPool2d<float> pool(2);
  for (auto _ : state) {
    pool.forward(x);
    benchmark::DoNotOptimize(pool.backward(dy).data());
  }
  set_bytes(state, x.numel() * 4.0 * 2.5);
}

void relu_forward(benchmark::State& state) {
  setup_threads();
  const index_t batch = state.range(0);
  const auto x = conv_output(batch, false);
  nn::ReLU<float> relu;
  for (auto _ : state) benchmark::DoNotOptimize(relu.forward(x).data());
  set_bytes(state, x.numel() * 4.0 * 2);
}

void relu_forward_backward(benchmark::State& state) {
  setup_threads();
  const index_t batch = state.range(0);
  const auto x = conv_output(batch, false);
  const auto dy = random_tensor(x.shape());
  nn::ReLU<float> relu;
  for (auto _ : state) {
    relu.forward(x);
    benchmark::DoNotOptimize(relu.backward(dy).data());
  }
  set_bytes(state, x.numel() * 4.0 * 5);
}
// mnist_convnet's (pytorch/examples mnist/main.py's) second layer, Conv2d(32, 64, 3) on the
// (N, 32, 26, 26) output of the first: the first multi-channel convolution. It needs dx. Its FLOP/s
// count direct convolution's multiply-adds; Conv2d takes Winograd's F(2x2, 3x3) here, which does
// 2.25x fewer, so the counter can exceed the machine's peak (bench_peak).
constexpr double conv2_flop(index_t batch) { return 2.0 * batch * 64 * 24 * 24 * 32 * 9; }

void conv2_forward(benchmark::State& state) {
  setup_threads();
  const index_t batch = state.range(0);
  manual_seed(0);
  nn::Conv2d<float> conv(32, 64, 3);
  const auto x = random_tensor({batch, 32, 26, 26});
  for (auto _ : state) benchmark::DoNotOptimize(conv.forward(x).data());
  set_flops(state, conv2_flop(batch));
}

void conv2_forward_backward(benchmark::State& state) {
  setup_threads();
  const index_t batch = state.range(0);
  manual_seed(0);
  nn::Conv2d<float> conv(32, 64, 3);
  conv.set_needs_input_grad(true);
  const auto x = random_tensor({batch, 32, 26, 26});
  const auto dy = random_tensor({batch, 64, 24, 24}, 2);
  for (auto _ : state) {
    conv.forward(x);
    benchmark::DoNotOptimize(conv.backward(dy).data());
  }
  set_flops(state, 3 * conv2_flop(batch));
}
}  // namespace

#define EMBER_BATCHES ->ArgName("batch")->Arg(64)->Arg(256)->Arg(1024)->Unit(benchmark::kMicrosecond)
BENCHMARK(conv_forward)->Name("conv_1_16_3/forward") EMBER_BATCHES;
BENCHMARK(conv_forward_backward)->Name("conv_1_16_3/forward_backward") EMBER_BATCHES;
// batch 64 only: mnist_convnet's batch (and bench/pytorch/rows.py's twin rows)
BENCHMARK(conv2_forward)->Name("conv_32_64_3/forward")->ArgName("batch")->Arg(64)->Unit(benchmark::kMicrosecond);
BENCHMARK(conv2_forward_backward)->Name("conv_32_64_3/forward_backward")->ArgName("batch")->Arg(64)->Unit(benchmark::kMicrosecond);
BENCHMARK(maxpool_forward)->Name("maxpool_2/forward") EMBER_BATCHES;
BENCHMARK(maxpool_forward_backward)->Name("maxpool_2/forward_backward") EMBER_BATCHES;
BENCHMARK(relu_forward)->Name("relu/forward") EMBER_BATCHES;
BENCHMARK(relu_forward_backward)->Name("relu/forward_backward") EMBER_BATCHES;
#undef EMBER_BATCHES

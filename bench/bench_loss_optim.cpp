// CrossEntropyLoss at (B, 10) and one Adam step over the seed MLP's 101,770 parameters.
#include "common.hpp"

namespace {
using namespace bench;

void cross_entropy(benchmark::State& state) {
  setup_threads();
  const index_t batch = state.range(0);
  const auto logits = random_tensor({batch, 10});
  const auto labels = mnist_batch(batch).labels;
  nn::CrossEntropyLoss<float> criterion;
  for (auto _ : state) {
    benchmark::DoNotOptimize(criterion.forward(logits, labels));
    benchmark::DoNotOptimize(criterion.backward().data());
  }
  set_bytes(state, batch * 10 * 8.0);
}

void adam_step(benchmark::State& state) {
  setup_threads();
  manual_seed(0);
  nn::Sequential model{nn::Flatten{}, nn::Linear{784, 128}, nn::ReLU{}, nn::Linear{128, 10}};
  for (auto* p : model.parameters()) p->grad = random_tensor(p->value.shape());
  optim::Adam optimizer(model.parameters(), {.lr = 1e-3});
  for (auto _ : state) optimizer.step();
  // p, grad, m, v read; p, m, v written
  set_bytes(state, 101770 * 4.0 * 7);
}
}  // namespace

BENCHMARK(cross_entropy)->Name("cross_entropy/forward_backward")->ArgName("batch")->Arg(64)->Arg(256)->Arg(1024)->Unit(benchmark::kMicrosecond);
BENCHMARK(adam_step)->Name("adam_step/mlp_784_128_10")->Unit(benchmark::kMicrosecond);

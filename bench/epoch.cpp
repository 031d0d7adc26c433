// One full training epoch of each seed model, the way the examples train (batch 64, shuffled,
// zero_grad / forward / loss / backward / step), and the MLP's inference throughput. Needs
// MNIST_DIR (falls back to 60,000 random images).
#include "common.hpp"
#include "models.hpp"  // tests/support: the seed CNN and LeNet-5

namespace {
using namespace bench;

template <class Model, class Optimizer>
void train_epochs(benchmark::State& state, Model& model, Optimizer& optimizer) {
  data::DataLoader loader(train_set(), {.batch_size = 64, .shuffle = true, .seed = 0});
  nn::CrossEntropyLoss criterion;
  for (auto _ : state) {
    for (const auto& [images, labels] : loader) {
      const auto& logits = nn::detail::call_forward(model, images);
      benchmark::DoNotOptimize(criterion.forward(logits, labels));
      optimizer.zero_grad();
      model.backward(criterion.backward());
      optimizer.step();
    }
  }
  state.counters["images/s"] = benchmark::Counter(60000.0, benchmark::Counter::kIsIterationInvariantRate);
  if constexpr (std::is_base_of_v<nn::Module<float>, Model>) {
    set_flop_floor(state, model, train_set().size());
  } else {  // the seed CNN by hand: its twin written with forward() only has the same multiply-adds
    test::SeedCnnForwardOnly<float> twin;
    set_flop_floor(state, twin, train_set().size());
  }
}

template <class MakeModel>
void epoch_adam(benchmark::State& state, MakeModel make) {
  setup_threads();
  manual_seed(0);
  auto model = make();
  optim::Adam optimizer(model.parameters(), {.lr = 1e-3});
  train_epochs(state, model, optimizer);
}

void epoch_sgd_mlp(benchmark::State& state) {
  setup_threads();
  manual_seed(0);
  nn::Sequential model{nn::Flatten{}, nn::Linear{784, 128}, nn::ReLU{}, nn::Linear{128, 64}, nn::ReLU{}, nn::Linear{64, 10}};
  optim::SGD optimizer(model.parameters(), {.lr = 0.01});
  train_epochs(state, model, optimizer);
}

void inference_mlp(benchmark::State& state) {
  setup_threads();
  manual_seed(0);
  const index_t batch = state.range(0);
  nn::Sequential model{nn::Flatten{}, nn::Linear{784, 128}, nn::ReLU{}, nn::Linear{128, 10}};
  model.eval();
  const auto x = mnist_batch(batch).images;
  for (auto _ : state) benchmark::DoNotOptimize(model.forward(x).data());
  state.SetItemsProcessed(state.iterations() * batch);
}

auto mlp(index_t hidden) {
  return [hidden] { return nn::Sequential{nn::Flatten{}, nn::Linear{784, hidden}, nn::ReLU{}, nn::Linear{hidden, 10}}; };
}
}  // namespace

BENCHMARK_CAPTURE(epoch_adam, mlp_784_128_10, mlp(128))->Name("epoch/mlp_784_128_10")->Unit(benchmark::kSecond)->Iterations(3);
BENCHMARK_CAPTURE(epoch_adam, mlp_784_50_10, mlp(50))->Name("epoch/mlp_784_50_10")->Unit(benchmark::kSecond)->Iterations(3);
BENCHMARK_CAPTURE(epoch_adam, mlp_784_512_256_10, [] {
  return nn::Sequential{nn::Flatten{}, nn::Linear{784, 512}, nn::ReLU{}, nn::Linear{512, 256}, nn::ReLU{}, nn::Linear{256, 10}};
})->Name("epoch/mlp_784_512_256_10")->Unit(benchmark::kSecond)->Iterations(3);
BENCHMARK(epoch_sgd_mlp)->Name("epoch/mlp_784_128_64_10_sgd")->Unit(benchmark::kSecond)->Iterations(3);
BENCHMARK_CAPTURE(epoch_adam, cnn_seed, [] { return test::SeedCnn<>{}; })->Name("epoch/cnn_seed")->Unit(benchmark::kSecond)->Iterations(3);
BENCHMARK_CAPTURE(epoch_adam, lenet5, [] { return test::make_lenet(); })->Name("epoch/lenet5")->Unit(benchmark::kSecond)->Iterations(3);
BENCHMARK(inference_mlp)->Name("inference/mlp_784_128_10")->ArgName("batch")->Arg(1000)->Unit(benchmark::kMicrosecond);

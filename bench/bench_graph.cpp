// The recorded graph's cost: a model written with forward() only against the same model whose
// backward is written by hand (the layers' calls in reverse), for whole epochs of the seed MLP and
// CNN, and per node on a chain of ops too small for their kernels to hide it.
#include "common.hpp"
#include "models.hpp"  // tests/support: the seed CNN with a hand-written backward

namespace {
using namespace bench;
namespace F = ember::nn::functional;

// The seed MLP with its backward by hand (the reverse of forward), as models were written before
// the graph.
struct MlpByHand {
  nn::Flatten<> flatten;
  nn::Linear<> fc1{784, 128};
  nn::ReLU<> relu;
  nn::Linear<> fc2{128, 10};
  MlpByHand() { fc1.set_needs_input_grad(false); }
  const Tensor<>& forward(const Tensor<>& x) { return fc2.forward(relu.forward(fc1.forward(flatten.forward(x)))); }
  const Tensor<>& backward(const Tensor<>& dy) { return fc1.backward(relu.backward(fc2.backward(dy))); }
  auto named_parameters() { return nn::named_parameters_of("fc1", fc1, "fc2", fc2); }
  auto parameters() { return nn::parameters_of(*this); }
};

// The MLP written with forward() only (the CNN's is test::SeedCnnForwardOnly).
struct MlpForwardOnly : nn::Module<float> {
  nn::Linear<> fc1{784, 128}, fc2{128, 10};
  EMBER_MODULE(MlpForwardOnly, fc1, fc2)
  const Tensor<>& forward(const Tensor<>& x) override { return fc2(F::relu(fc1(F::flatten(x)))); }
};

template <class Model>
void epoch(benchmark::State& state) {
  setup_threads();
  manual_seed(0);
  Model model;
  optim::Adam optimizer(model.parameters(), {.lr = 1e-3});
  data::DataLoader loader(train_set(), {.batch_size = 64, .shuffle = true, .seed = 0});
  nn::CrossEntropyLoss criterion;
  for (auto _ : state)
    for (const auto& [images, labels] : loader) {
      benchmark::DoNotOptimize(criterion.forward(nn::detail::call_forward(model, images), labels));
      optimizer.zero_grad();
      model.backward(criterion.backward());
      optimizer.step();
    }
  state.counters["images/s"] = benchmark::Counter(60000.0, benchmark::Counter::kIsIterationInvariantRate);
}

// Forward and backward of `nodes` ReLUs in a chain on a (1, 8) tensor: the graph's per-node cost
// beside the same layers called by hand.
constexpr int chain_nodes = 32;
struct ChainByHand {
  nn::Linear<> first{8, 8};
  std::vector<nn::ReLU<>> relus = std::vector<nn::ReLU<>>(chain_nodes - 1);
  const Tensor<>& forward(const Tensor<>& x) {
    const Tensor<>* h = &first.forward(x);
    for (auto& r : relus) h = &r.forward(*h);
    return *h;
  }
  const Tensor<>& backward(const Tensor<>& dy) {
    const Tensor<>* d = &dy;
    for (std::size_t i = relus.size(); i-- > 0;) d = &relus[i].backward(*d);
    return first.backward(*d);
  }
};
struct ChainForwardOnly : nn::Module<float> {
  nn::Linear<> first{8, 8};  // so that the chain after it needs gradients
  EMBER_MODULE(ChainForwardOnly, first)
  const Tensor<>& forward(const Tensor<>& x) override {
    const Tensor<>* h = &first(x);
    for (int i = 1; i < chain_nodes; ++i) h = &F::relu(*h);
    return *h;
  }
};

template <class Chain>
void chain(benchmark::State& state) {
  set_num_threads(1);
  Chain model;
  const Tensor<> x({1, 8});
  const Tensor<> dy({1, 8});
  for (auto _ : state) {
    benchmark::DoNotOptimize(nn::detail::call_forward(model, x).data());
    benchmark::DoNotOptimize(model.backward(dy).data());
  }
  state.counters["ns/node"] =
      benchmark::Counter(static_cast<double>(chain_nodes), benchmark::Counter::kIsIterationInvariantRate |
                                                               benchmark::Counter::kInvert);
}
}  // namespace

BENCHMARK(epoch<MlpByHand>)->Name("graph/epoch_mlp_784_128_10_by_hand")->Unit(benchmark::kSecond)->Iterations(3);
BENCHMARK(epoch<MlpForwardOnly>)->Name("graph/epoch_mlp_784_128_10_forward_only")->Unit(benchmark::kSecond)->Iterations(3);
BENCHMARK(epoch<test::SeedCnn<>>)->Name("graph/epoch_cnn_seed_by_hand")->Unit(benchmark::kSecond)->Iterations(3);
BENCHMARK(epoch<test::SeedCnnForwardOnly<>>)->Name("graph/epoch_cnn_seed_forward_only")->Unit(benchmark::kSecond)->Iterations(3);
BENCHMARK(chain<ChainByHand>)->Name("graph/chain_32_relu_by_hand");
BENCHMARK(chain<ChainForwardOnly>)->Name("graph/chain_32_relu_forward_only");

// Test helpers: golden tensors into ember tensors, and closeness checks that say where they fail.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <sstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include <ember/kernels/isa.hpp>
#include <ember/nn/loss.hpp>
#include <ember/optim/adam.hpp>
#include <ember/random.hpp>
#include <ember/tensor.hpp>

#include "golden.hpp"

namespace test {

// Runs f(isa) once for each instruction set whose kernels this program has and this CPU runs
// (kernels/isa.hpp: the flags' own, and AVX2 and AVX-512 where the program dispatches), then
// restores the selection, also when f throws.
template <class F>
void for_each_isa(F&& f) {
  using ember::kernels::Isa;
  struct Restore {
    Isa saved = ember::kernels::isa();
    ~Restore() { ember::kernels::set_isa(saved); }
  } restore;
  std::vector<Isa> done;
  for (Isa isa : {Isa::generic, Isa::avx2, Isa::avx512}) {
    if (isa > ember::kernels::cpu_isa()) break;
    ember::kernels::set_isa(isa);  // below the flags' own set, the flags' kernels run
    if (std::find(done.begin(), done.end(), ember::kernels::isa()) != done.end()) continue;
    done.push_back(ember::kernels::isa());
    f(ember::kernels::isa());
  }
}

template <class T = float>
ember::Tensor<T> to_tensor(const golden::Tensor& g) {
  ember::Tensor<T> t(ember::Shape::from_range(g.shape.begin(), g.shape.end()));
  for (std::int64_t i = 0; i < g.numel(); ++i) t.data()[i] = static_cast<T>(g.values[i]);
  return t;
}

// A tensor of standard normal values from a seed.
template <class T = double>
ember::Tensor<T> random_tensor(const ember::Shape& s, std::uint64_t seed) {
  ember::Generator g(seed);
  ember::Tensor<T> t(s);
  for (std::int64_t i = 0; i < t.numel(); ++i) t.data()[i] = static_cast<T>(g.normal());
  return t;
}

inline ember::Tensor<std::int64_t> to_labels(const golden::Tensor& g) { return to_tensor<std::int64_t>(g); }

// Float tolerance of the golden comparisons: |a - b| <= atol + rtol * |b|. The values are float32
// sums of at most a few thousand products computed in another order than torch's, so they
// differ by a few ulps of the largest term: rtol = 1e-5 (~80 ulps) with atol = 1e-6 for values
// near zero. An error of 0.1% in any element fails.
struct Tolerance {
  double rtol = 1e-5;
  double atol = 1e-6;
  const ember::Tensor<double>* atol_each = nullptr;  // added to atol element by element, when set
};

// Element-by-element comparison; on failure names the first bad element and the largest error.
template <class T>
std::string mismatch(const ember::Tensor<T>& actual, const golden::Tensor& expected, Tolerance tol = {}) {
  const auto want = ember::Shape::from_range(expected.shape.begin(), expected.shape.end());
  std::ostringstream out;
  if (!(actual.shape() == want)) {
    out << "shape " << actual.shape() << " != expected " << want;
    return out.str();
  }
  std::int64_t bad = -1, count = 0;
  double worst = 0;
  for (std::int64_t i = 0; i < actual.numel(); ++i) {
    const double a = static_cast<double>(actual.data()[i]), b = expected.values[i];
    const double err = std::abs(a - b);
    const double atol = tol.atol + (tol.atol_each ? tol.atol_each->data()[i] : 0.0);
    if (!(err <= atol + tol.rtol * std::abs(b))) {
      if (bad < 0) bad = i;
      ++count;
    }
    worst = std::max(worst, err);
  }
  if (bad < 0) return "";
  out << count << " of " << actual.numel() << " elements differ; first at " << bad << ": "
      << static_cast<double>(actual.data()[bad]) << " vs expected " << expected.values[bad]
      << "; largest abs error " << worst;
  return out.str();
}

}  // namespace test

// CHECK that an ember tensor matches a golden tensor within the tolerance.
#define CHECK_CLOSE(actual, expected, ...)                                       \
  do {                                                                          \
    const std::string ember_mismatch_ = test::mismatch(actual, expected, ##__VA_ARGS__); \
    INFO(#actual << " vs " << #expected << ": " << ember_mismatch_);            \
    CHECK(ember_mismatch_.empty());                                             \
  } while (0)

namespace test {

// Loads a model's weights from a golden file (state_dict names), trains 5 Adam steps on the file's
// batch, and checks each step's loss and the final weights against torch's.
template <class Model>
void check_adam_steps_against_golden(Model& model, const golden::File& g, double lr) {
  for (auto& [name, p] : model.named_parameters()) p.value = to_tensor(g[name]);
  ember::nn::CrossEntropyLoss<float> criterion;
  ember::optim::Adam optimizer(model.parameters(), {.lr = lr});
  const auto x = to_tensor(g["x"]);
  const auto labels = to_labels(g["labels"]);
  for (int step = 1; step <= 5; ++step) {
    const float loss = criterion.forward(model.forward(x), labels);
    CHECK(loss == Approx(g["loss" + std::to_string(step)].values[0]).epsilon(1e-5));
    optimizer.zero_grad();
    model.backward(criterion.backward());
    optimizer.step();
  }
  for (auto& [name, p] : model.named_parameters()) {
    INFO(name);
    CHECK_CLOSE(p.value, g["final." + name]);
  }
}

// Five optimizer steps from the golden p0 with the golden gradients g1..g5, compared with torch's
// parameter after steps 1 and 5 (the files of tests/golden/make_golden.py and make_golden_optim.py).
template <class Optimizer, class Options = typename Optimizer::Options>
void check_optimizer_against_torch(const golden::File& g, const std::string& config, const Options& options) {
  INFO("config " << config);
  ember::nn::Parameter<float> p{to_tensor(g["p0"]), ember::Tensor<float>({3, 4})};
  Optimizer optimizer(std::vector<ember::nn::Parameter<float>*>{&p}, options);
  for (int k = 1; k <= 5; ++k) {
    optimizer.zero_grad();
    p.grad = to_tensor(g["g" + std::to_string(k)]);
    optimizer.step();
    if (k == 1) CHECK_CLOSE(p.value, g[config + ".step1"]);
  }
  if constexpr (requires { optimizer.step_count(); }) CHECK(optimizer.step_count() == 5);
  CHECK_CLOSE(p.value, g[config + ".step5"]);
}

}  // namespace test

// Gradient checking, as dlib ships it: central differences on every input element and every
// parameter, against the hand-written backward, in double precision. Not part of the
// umbrella header; include it where you test a layer of your own.
//
//   Tensor<double> x({2, 3});  ... fill x ...
//   auto r = nn::gradcheck(layer, x);
//   if (!r.ok) std::cout << r.report;
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "ember/nn/module.hpp"
#include "ember/random.hpp"
#include "ember/tensor.hpp"

namespace ember::nn {

struct GradcheckOptions {
  double eps = 1e-6;        // central-difference step
  double tolerance = 1e-6;  // on |analytic - numeric| / max(1, |analytic|, |numeric|)
  std::uint64_t seed = 0;   // of the random projection dy
};

struct GradcheckResult {
  bool ok = true;
  double max_error = 0;  // the largest error seen, over all elements checked
  index_t checked = 0;   // elements compared
  std::string report;    // one line per failure (the first 10), and the accumulation check
};

namespace detail {

// Compares the analytic gradient `analytic` of `value` against central differences of
// objective(), element by element.
template <class Objective>
void compare(GradcheckResult& r, const std::string& name, Tensor<double>& value, const Tensor<double>& analytic,
             Objective&& objective, const GradcheckOptions& o) {
  std::ostringstream report;
  int failures = 0;
  for (index_t i = 0; i < value.numel(); ++i) {
    // Each write through data() (not a reference kept across objective()), so the tensor's
    // version counts it and caches made from it (Linear's packed weights) are rebuilt.
    const double saved = std::as_const(value).data()[i];
    value.data()[i] = saved + o.eps;
    const double plus = objective();
    value.data()[i] = saved - o.eps;
    const double minus = objective();
    value.data()[i] = saved;
    const double numeric = (plus - minus) / (2 * o.eps);
    const double a = analytic.data()[i];
    const double err = std::abs(a - numeric) / std::max({1.0, std::abs(a), std::abs(numeric)});
    r.max_error = std::max(r.max_error, err);
    ++r.checked;
    if (err > o.tolerance) {
      r.ok = false;
      if (failures++ < 10)
        report << name << "[" << i << "]: analytic " << a << ", numeric " << numeric << ", error " << err << "\n";
    }
  }
  r.report += report.str();
}

inline Tensor<double> random_like(const Shape& shape, std::uint64_t seed) {
  Generator g(seed);
  Tensor<double> t(shape);
  for (index_t i = 0; i < t.numel(); ++i) t.data()[i] = g.normal();
  return t;
}

// Checks that a second backward ADDS to the parameter gradients (2x the first) rather than
// overwriting them; `backward_once` runs one forward + backward.
template <class Model, class BackwardOnce>
void check_accumulation(GradcheckResult& r, Model& model, BackwardOnce&& backward_once, const GradcheckOptions& o) {
  model.zero_grad();
  backward_once();
  std::vector<Tensor<double>> first;
  for (auto& [name, p] : model.named_parameters()) first.push_back(p.grad);
  backward_once();
  std::size_t k = 0;
  for (auto& [name, p] : model.named_parameters()) {
    const double diff = (p.grad.array() - 2 * first[k++].array()).abs().maxCoeff();
    if (diff > o.tolerance * std::max(1.0, p.grad.array().abs().maxCoeff())) {
      r.ok = false;
      r.report += name + ": a second backward did not add to the gradient (grad != 2 x first grad)\n";
    }
  }
  model.zero_grad();
}

// The shared procedure: one analytic backward from zeroed grads, then central differences of
// objective() on x (when the model computes dx) and on every parameter, then the accumulation
// check. `x` is the tensor objective() reads, so perturbing it in place changes the objective.
// Every generator of the model (Dropout's) as it is now, and a function that puts them back: each
// evaluation of the objective then draws the same masks.
template <class Model>
auto generator_rewinder(Model& model) {
  std::vector<std::pair<Generator*, Generator>> saved;
  if constexpr (requires(StateVisitor<double>& v) { model.visit_state(v, nullptr); })
    for_each_state<double>(model, [&](const Name&, Generator& g) { saved.emplace_back(&g, g); });
  return [saved] {
    for (const auto& [g, state] : saved) *g = state;
  };
}

template <class Model, class Objective, class BackwardOnce>
GradcheckResult check_all(Model& model, Tensor<double>& x, Objective&& plain_objective, BackwardOnce&& plain_backward_once,
                          const GradcheckOptions& o) {
  const auto rewind = generator_rewinder(model);
  auto objective = [&] {
    rewind();
    return plain_objective();
  };
  auto backward_once = [&] {
    rewind();
    return plain_backward_once();
  };
  GradcheckResult r;
  model.zero_grad();
  const Tensor<double> dx = backward_once();
  std::vector<Tensor<double>> grads;
  for (auto& [name, p] : model.named_parameters()) grads.push_back(p.grad);
  if (model.needs_input_grad()) compare(r, "input", x, dx, objective, o);
  std::size_t k = 0;
  for (auto& [name, p] : model.named_parameters()) compare(r, name, p.value, grads[k++], objective, o);
  check_accumulation(r, model, backward_once, o);
  return r;
}

}  // namespace detail

// Checks layer.backward() against central differences of sum(forward(x) * dy) for a random
// dy: dx (when the layer computes it) and every parameter; and that grads accumulate.
template <class Layer>
GradcheckResult gradcheck(Layer& layer, Tensor<double> x, const GradcheckOptions& o = {}) {
  layer.train();
  const Tensor<double> dy = detail::random_like(detail::call_forward(layer, x).shape(), o.seed);
  auto objective = [&] { return (detail::call_forward(layer, x).array() * dy.array()).sum(); };
  auto backward_once = [&] {
    detail::call_forward(layer, x);
    return Tensor<double>(layer.backward(dy));
  };
  return detail::check_all(layer, x, objective, backward_once, o);
}

// The same for a whole model under a loss: objective = loss(model(x), labels).
template <class Model, class Loss, class Labels>
GradcheckResult gradcheck_loss(Model& model, Loss& loss, Tensor<double> x, const Labels& labels,
                               const GradcheckOptions& o = {}) {
  model.train();
  auto objective = [&] { return static_cast<double>(loss.forward(detail::call_forward(model, x), labels)); };
  auto backward_once = [&] {
    objective();
    return Tensor<double>(model.backward(loss.backward()));
  };
  return detail::check_all(model, x, objective, backward_once, o);
}

}  // namespace ember::nn

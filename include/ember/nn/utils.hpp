// nn::utils, as torch.nn.utils: clip_grad_norm_ (torch 1.13's clip_grad.py).
//
//   loss.backward(...); model.backward(...);
//   nn::utils::clip_grad_norm_(optimizer.params(), 1.0);   // before optimizer.step()
//   (model.parameters() works too, but builds a new vector: an allocation every step)
#pragma once

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "ember/error.hpp"
#include "ember/nn/module.hpp"
#include "ember/tensor.hpp"

namespace ember::nn::utils {

// torch's float('inf'), for norm_type.
inline constexpr double inf = std::numeric_limits<double>::infinity();

namespace detail {
// torch's vector norm of a tensor of T (torch.norm / linalg.vector_norm on CPU), fed one value at a
// time: each term |x|^norm_type is computed in T, as torch's kernel does (so |x|^2 overflows to
// inf past ~1.8e19 in float and vanishes below ~1e-23), the terms are summed (here in double, so
// the last bits may differ from torch's float sum), a sum past T's largest value is inf (torch's
// float sum overflows there), and the norm is rounded to T. A NaN anywhere gives NaN.
template <class T>
class VectorNorm {
 public:
  explicit VectorNorm(double norm_type) : p_(norm_type) {}
  void add(T x) {
    const T a = std::abs(x);
    if (p_ == inf) {
      max_ = std::isnan(a) || std::isnan(max_) ? std::numeric_limits<T>::quiet_NaN() : std::max(max_, a);
      return;
    }
    const T term = p_ == 1 ? a : p_ == 2 ? a * a : static_cast<T>(std::pow(static_cast<double>(a), p_));
    sum_ += static_cast<double>(term);
  }
  T result() const {
    if (p_ == inf) return max_;
    if (sum_ > static_cast<double>(std::numeric_limits<T>::max())) return std::numeric_limits<T>::infinity();
    return static_cast<T>(p_ == 1 ? sum_ : p_ == 2 ? std::sqrt(sum_) : std::pow(sum_, 1 / p_));
  }

 private:
  double p_;
  double sum_ = 0;
  T max_ = 0;
};
}  // namespace detail

// Scales the gradients of `parameters` in place so that their total norm (of all gradients
// together, as one vector) is at most max_norm, and returns that total norm before clipping, as
// torch.nn.utils.clip_grad_norm_:
//   total_norm = norm of the vector of each gradient's norm, where the norm of x is
//                (sum of |x_i|^norm_type)^(1 / norm_type)   (inf: max |x_i|)
//   clip_coef = max_norm / (total_norm + 1e-6);  g = g * clip_coef   when clip_coef < 1
// Each norm is torch's float one (detail::VectorNorm: terms in T, so past ~1.8e19 per float
// element, or ~3.4e38 for the summed squares, the total is inf and every gradient becomes 0 or
// NaN, as torch's; tiny gradients give 0), summed in double (the last bits may differ from
// torch's float sum); clip_coef is computed in T as torch's tensor arithmetic does. A non-finite
// norm scales the gradients by a NaN or zero coefficient, as torch's default
// (error_if_nonfinite = False) does. No parameters: returns 0.
template <class T>
T clip_grad_norm_(const std::vector<Parameter<T>*>& parameters, double max_norm, double norm_type = 2) {
  ember::detail::check(!std::isnan(max_norm) && max_norm >= 0, "nn::utils::clip_grad_norm_: invalid max_norm ", max_norm,
                       " (must be >= 0)");
  ember::detail::check(norm_type > 0 && !std::isnan(norm_type), "nn::utils::clip_grad_norm_: invalid norm_type ",
                       norm_type, " (must be > 0, or nn::utils::inf)");
  for (std::size_t k = 0; k < parameters.size(); ++k)
    ember::detail::check(parameters[k] != nullptr, "nn::utils::clip_grad_norm_: parameter ", k, " is null");
  if (parameters.empty()) return T(0);
  detail::VectorNorm<T> total(norm_type);  // torch.norm(torch.stack(per-gradient norms))
  for (const auto* p : parameters) {
    const T* g = p->grad.data();
    const index_t n = p->grad.numel();
    detail::VectorNorm<T> norm(norm_type);
    for (index_t i = 0; i < n; ++i) norm.add(g[i]);
    total.add(norm.result());
  }
  const T total_norm = total.result();
  // torch: max_norm / (total_norm + 1e-6) is (total_norm + 1e-6).reciprocal() * max_norm, in T.
  const T clip_coef = T(1) / (total_norm + static_cast<T>(1e-6)) * static_cast<T>(max_norm);
  if (!(clip_coef >= T(1))) {  // < 1, or NaN (torch's clamp keeps a NaN)
    for (auto* p : parameters) {
      T* g = p->grad.data();
      const index_t n = p->grad.numel();
      for (index_t i = 0; i < n; ++i) g[i] *= clip_coef;
    }
  }
  return total_norm;
}

}  // namespace ember::nn::utils

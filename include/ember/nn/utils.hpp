// nn::utils, as torch.nn.utils: clip_grad_norm_ (torch 1.13's clip_grad.py).
//
//   loss.backward(...); model.backward(...);
//   nn::utils::clip_grad_norm_(model.parameters(), 1.0);   // before optimizer.step()
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

// Scales the gradients of `parameters` in place so that their total norm (of all gradients
// together, as one vector) is at most max_norm, and returns that total norm before clipping, as
// torch.nn.utils.clip_grad_norm_:
//   total_norm = (sum over every gradient element of |g|^norm_type)^(1 / norm_type)   (inf: max |g|)
//   clip_coef = max_norm / (total_norm + 1e-6);  g = g * clip_coef   when clip_coef < 1
// The norm is summed in double and rounded to T (torch sums in T, so the last bits may differ);
// clip_coef is computed in T as torch's tensor arithmetic does. A non-finite norm scales the
// gradients by a NaN or zero coefficient, as torch's default (error_if_nonfinite = False) does.
// No parameters: returns 0.
template <class T>
T clip_grad_norm_(const std::vector<Parameter<T>*>& parameters, double max_norm, double norm_type = 2) {
  ember::detail::check(!std::isnan(max_norm) && max_norm >= 0, "nn::utils::clip_grad_norm_: invalid max_norm ", max_norm,
                       " (must be >= 0)");
  ember::detail::check(norm_type > 0 && !std::isnan(norm_type), "nn::utils::clip_grad_norm_: invalid norm_type ",
                       norm_type, " (must be > 0, or nn::utils::inf)");
  for (std::size_t k = 0; k < parameters.size(); ++k)
    ember::detail::check(parameters[k] != nullptr, "nn::utils::clip_grad_norm_: parameter ", k, " is null");
  if (parameters.empty()) return T(0);
  double total = 0;
  for (const auto* p : parameters) {
    const T* g = p->grad.data();
    const index_t n = p->grad.numel();
    if (norm_type == inf) {
      for (index_t i = 0; i < n; ++i) total = std::max(total, static_cast<double>(std::abs(g[i])));
    } else if (norm_type == 2) {
      for (index_t i = 0; i < n; ++i) total += static_cast<double>(g[i]) * static_cast<double>(g[i]);
    } else if (norm_type == 1) {
      for (index_t i = 0; i < n; ++i) total += std::abs(static_cast<double>(g[i]));
    } else {
      for (index_t i = 0; i < n; ++i) total += std::pow(std::abs(static_cast<double>(g[i])), norm_type);
    }
    for (index_t i = 0; i < n; ++i)  // a NaN anywhere makes the norm NaN, as torch's
      if (std::isnan(g[i])) total = std::numeric_limits<double>::quiet_NaN();
  }
  const T total_norm = static_cast<T>(norm_type == inf || norm_type == 1 ? total
                                      : norm_type == 2                    ? std::sqrt(total)
                                                                          : std::pow(total, 1 / norm_type));
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

// optim::AdamW, torch.optim.AdamW's update rule to the letter (torch 1.13, single-tensor path):
// Adam with decoupled weight decay, applied to the parameter before the moments:
//   p = p * (1 - lr * weight_decay)
//   m = beta1 * m + (1 - beta1) * g
//   v = beta2 * v + (1 - beta2) * g * g
//   vmax = max(vmax, v)                            (amsgrad)
//   denom = sqrt(amsgrad ? vmax : v) / sqrt(1 - beta2^t) + eps
//   p = p + (-lr / (1 - beta1^t)) * m / denom
// The implementation is Adam's (optim/adam.hpp), as in PyTorch; only the defaults differ.
#pragma once

#include <utility>
#include <vector>

#include "ember/nn/module.hpp"
#include "ember/optim/adam.hpp"

namespace ember::optim {

struct AdamWOptions {
  double lr = 1e-3;
  std::pair<double, double> betas = {0.9, 0.999};
  double eps = 1e-8;
  double weight_decay = 1e-2;
  bool amsgrad = false;
};

// AdamW is Adam with the weight decay decoupled (one implementation: optim/adam.hpp).
template <class T = float>
class AdamW final : public detail::AdamFamily<T, AdamWOptions, true> {
 public:
  using Options = AdamWOptions;
  explicit AdamW(std::vector<nn::Parameter<T>*> params, const AdamWOptions& options = {})
      : detail::AdamFamily<T, AdamWOptions, true>(std::move(params), options) {}
};

template <class T>
AdamW(std::vector<nn::Parameter<T>*>, AdamWOptions = {}) -> AdamW<T>;

}  // namespace ember::optim

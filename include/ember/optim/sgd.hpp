// optim::SGD, torch.optim.SGD's update rule to the letter:
//   g = grad + weight_decay * p
//   b = g                                  (first step)
//   b = momentum * b + (1 - dampening) * g (later steps)
//   g = nesterov ? g + momentum * b : b    (when momentum != 0)
//   p = p - lr * g
#pragma once

#include <cstddef>
#include <vector>

#include "ember/error.hpp"
#include "ember/nn/module.hpp"
#include "ember/tensor.hpp"

namespace ember::optim {

struct SGDOptions {
  double lr = 1e-3;
  double momentum = 0;
  double dampening = 0;
  double weight_decay = 0;
  bool nesterov = false;
};

template <class T = float>
class SGD {
 public:
  using Options = SGDOptions;

  explicit SGD(std::vector<nn::Parameter<T>*> params, const SGDOptions& options = {})
      : params_(std::move(params)), options_(options) {
    ember::detail::check(options.lr >= 0, "SGD: invalid learning rate ", options.lr, " (must be >= 0)");
    ember::detail::check(options.momentum >= 0, "SGD: invalid momentum ", options.momentum, " (must be >= 0)");
    ember::detail::check(options.weight_decay >= 0, "SGD: invalid weight_decay ", options.weight_decay,
                         " (must be >= 0)");
    ember::detail::check(!options.nesterov || (options.momentum > 0 && options.dampening == 0),
                         "SGD: nesterov momentum requires a momentum > 0 and zero dampening");
    ember::detail::check(!params_.empty(), "SGD: got an empty parameter list");
    if (options.momentum != 0) momentum_buffers_.resize(params_.size());
  }

  void step() {
    const T lr = static_cast<T>(options_.lr), wd = static_cast<T>(options_.weight_decay);
    const T momentum = static_cast<T>(options_.momentum), keep = static_cast<T>(1 - options_.dampening);
    for (std::size_t k = 0; k < params_.size(); ++k) {
      T* p = params_[k]->value.data();
      const T* grad = params_[k]->grad.data();
      const index_t n = params_[k]->value.numel();
      if (momentum == T(0)) {
        for (index_t i = 0; i < n; ++i) p[i] -= lr * (wd != T(0) ? grad[i] + wd * p[i] : grad[i]);
        continue;
      }
      Tensor<T>& buffer = momentum_buffers_[k];
      const bool first = buffer.empty();
      if (first) buffer.resize_uninitialized(params_[k]->value.shape());
      T* b = buffer.data();
      for (index_t i = 0; i < n; ++i) {
        const T g = wd != T(0) ? grad[i] + wd * p[i] : grad[i];
        b[i] = first ? g : momentum * b[i] + keep * g;
        p[i] -= lr * (options_.nesterov ? g + momentum * b[i] : b[i]);
      }
    }
  }

  void zero_grad() {
    for (auto* p : params_) p->grad.zero();
  }

  const SGDOptions& options() const { return options_; }
  SGDOptions& options() { return options_; }  // e.g. a learning-rate schedule sets options().lr
  const std::vector<nn::Parameter<T>*>& params() const { return params_; }
  // momentum_buffer of each parameter (empty before the first step or without momentum).
  std::vector<Tensor<T>>& momentum_buffers() { return momentum_buffers_; }

 private:
  std::vector<nn::Parameter<T>*> params_;
  SGDOptions options_;
  std::vector<Tensor<T>> momentum_buffers_;
};

template <class T>
SGD(std::vector<nn::Parameter<T>*>, SGDOptions = {}) -> SGD<T>;

}  // namespace ember::optim

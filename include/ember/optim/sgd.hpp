// optim::SGD, torch.optim.SGD's update rule to the letter:
//   g = grad + weight_decay * p
//   b = g                                  (first step)
//   b = momentum * b + (1 - dampening) * g (later steps)
//   g = nesterov ? g + momentum * b : b    (when momentum != 0)
//   p = p - lr * g
#pragma once

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "ember/error.hpp"
#include "ember/nn/module.hpp"
#include "ember/optim/optimizer.hpp"
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
class SGD final : public Optimizer<T> {
 public:
  using Options = SGDOptions;

  explicit SGD(std::vector<nn::Parameter<T>*> params, const SGDOptions& options = {})
      : Optimizer<T>(std::move(params), "SGD"), options_(options), momentum_buffers_(this->params().size()) {
    this->check_options();
  }

  void step() override {
    const T lr = static_cast<T>(options_.lr), wd = static_cast<T>(options_.weight_decay);
    const T momentum = static_cast<T>(options_.momentum), keep = static_cast<T>(1 - options_.dampening);
    const auto& params = this->params();
    for (std::size_t k = 0; k < params.size(); ++k) {
      T* p = params[k]->value.data();
      const T* grad = std::as_const(params[k]->grad).data();
      const index_t n = params[k]->value.numel();
      if (momentum == T(0)) {
        for (index_t i = 0; i < n; ++i) p[i] -= lr * (wd != T(0) ? grad[i] + wd * p[i] : grad[i]);
        continue;
      }
      Tensor<T>& buffer = momentum_buffers_[k];
      const bool first = buffer.empty();
      if (first) buffer.resize_uninitialized(params[k]->value.shape());
      T* b = buffer.data();
      for (index_t i = 0; i < n; ++i) {
        const T g = wd != T(0) ? grad[i] + wd * p[i] : grad[i];
        b[i] = first ? g : momentum * b[i] + keep * g;
        p[i] -= lr * (options_.nesterov ? g + momentum * b[i] : b[i]);
      }
    }
  }

  double lr() const override { return options_.lr; }

  // torch's optimizer.state[p]['momentum_buffer'] (absent before the first step with momentum)
  // and param_groups.
  void visit_state(OptimizerStateVisitor<T>& v) override {
    v.scalar("lr", options_.lr);
    v.scalar("momentum", options_.momentum);
    v.scalar("dampening", options_.dampening);
    v.scalar("weight_decay", options_.weight_decay);
    v.flag("nesterov", options_.nesterov, false);
    for (std::size_t k = 0; k < momentum_buffers_.size(); ++k) v.tensor(k, "momentum_buffer", momentum_buffers_[k], true);
  }
  std::string options_problem() const override {
    const auto& o = options_;
    for (const std::string& p :
         {this->range_problem("learning rate", o.lr, 0, 1e30), this->range_problem("momentum", o.momentum, 0, 1e30),
          this->range_problem("dampening", o.dampening, -1e30, 1e30),
          this->range_problem("weight_decay", o.weight_decay, 0, 1e30)})
      if (!p.empty()) return p;
    if (o.nesterov && !(o.momentum > 0 && o.dampening == 0))
      return "nesterov momentum requires a momentum > 0 and zero dampening";
    return {};
  }

  const SGDOptions& options() const { return options_; }
  SGDOptions& options() { return options_; }
  // momentum_buffer of each parameter (empty before the first step or without momentum).
  std::vector<Tensor<T>>& momentum_buffers() { return momentum_buffers_; }

 private:
  double& lr_ref() override { return options_.lr; }
  double* momentum_ref() override { return &options_.momentum; }

  SGDOptions options_;
  std::vector<Tensor<T>> momentum_buffers_;
};

template <class T>
SGD(std::vector<nn::Parameter<T>*>, SGDOptions = {}) -> SGD<T>;

}  // namespace ember::optim

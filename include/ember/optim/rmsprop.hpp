// optim::RMSprop, torch.optim.RMSprop's update rule to the letter (torch 1.13, single-tensor path):
//   g = grad + weight_decay * p
//   v = alpha * v + (1 - alpha) * g * g                      (square_avg)
//   a = alpha * a + (1 - alpha) * g                          (grad_avg, centered)
//   avg = sqrt(centered ? v - a * a : v) + eps
//   b = momentum * b + g / avg;  p = p - lr * b              (momentum > 0)
//   p = p - lr * g / avg                                     (otherwise)
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "ember/error.hpp"
#include "ember/nn/module.hpp"
#include "ember/optim/optimizer.hpp"
#include "ember/tensor.hpp"

namespace ember::optim {

struct RMSpropOptions {
  double lr = 1e-2;
  double alpha = 0.99;
  double eps = 1e-8;
  double weight_decay = 0;
  double momentum = 0;
  bool centered = false;
};

template <class T = float>
class RMSprop final : public Optimizer<T> {
 public:
  using Options = RMSpropOptions;

  explicit RMSprop(std::vector<nn::Parameter<T>*> params, const RMSpropOptions& options = {})
      : Optimizer<T>(std::move(params), "RMSprop"), options_(options), momentum_buffer_(this->params().size()) {
    this->check_options();
    for (auto* p : this->params()) {
      square_avg_.emplace_back(p->value.shape());
      grad_avg_.emplace_back(options.centered ? p->value.shape() : Shape{0});
    }
  }

  void step() override {
    ember::detail::check(step_ < max_step_count, "RMSprop: the step count ", step_, " reached its limit");
    ++step_;
    // Scalars rounded to T as torch's kernels round them.
    const T alpha = static_cast<T>(options_.alpha), one_minus_alpha = static_cast<T>(1 - options_.alpha);
    const T eps = static_cast<T>(options_.eps), wd = static_cast<T>(options_.weight_decay);
    const T momentum = static_cast<T>(options_.momentum), neg_lr = static_cast<T>(-options_.lr);
    const bool use_momentum = options_.momentum > 0;
    const auto& params = this->params();
    for (std::size_t k = 0; k < params.size(); ++k) {
      T* p = params[k]->value.data();
      const T* grad = std::as_const(params[k]->grad).data();
      const index_t n = params[k]->value.numel();
      T* v = square_avg_[k].data();  // v, a, b: same shape as p
      T* a = grad_avg_[k].data();
      // Zeros from the first step with momentum on (torch makes them at the first step).
      if (use_momentum && momentum_buffer_[k].empty()) momentum_buffer_[k] = Tensor<T>(params[k]->value.shape());
      T* b = use_momentum ? momentum_buffer_[k].data() : nullptr;
      for (index_t i = 0; i < n; ++i) {
        const T g = wd != T(0) ? grad[i] + wd * p[i] : grad[i];
        v[i] = v[i] * alpha + one_minus_alpha * g * g;
        T avg;
        if (options_.centered) {
          a[i] = a[i] * alpha + one_minus_alpha * g;
          avg = std::sqrt(v[i] + T(-1) * a[i] * a[i]) + eps;
        } else {
          avg = std::sqrt(v[i]) + eps;
        }
        if (use_momentum) {
          b[i] = b[i] * momentum + g / avg;
          p[i] += neg_lr * b[i];
        } else {
          p[i] += neg_lr * g / avg;
        }
      }
    }
  }

  double lr() const override { return options_.lr; }

  // torch's optimizer.state[p] (step, square_avg, momentum_buffer, grad_avg) and param_groups.
  void visit_state(OptimizerStateVisitor<T>& v) override {
    v.count("step", step_);
    v.scalar("lr", options_.lr);
    v.scalar("alpha", options_.alpha);
    v.scalar("eps", options_.eps);
    v.scalar("weight_decay", options_.weight_decay);
    v.scalar("momentum", options_.momentum);
    v.flag("centered", options_.centered, true);
    for (std::size_t k = 0; k < square_avg_.size(); ++k) {
      v.tensor(k, "square_avg", square_avg_[k], false);
      v.tensor(k, "momentum_buffer", momentum_buffer_[k], true);
      if (options_.centered) v.tensor(k, "grad_avg", grad_avg_[k], false);
    }
  }
  std::string options_problem() const override {
    const auto& o = options_;
    for (const std::string& p :
         {this->range_problem("learning rate", o.lr, 0, 1e30), this->range_problem("alpha", o.alpha, 0, 1e30),
          this->range_problem("eps", o.eps, 0, 1e30), this->range_problem("weight_decay", o.weight_decay, 0, 1e30),
          this->range_problem("momentum", o.momentum, 0, 1e30)})
      if (!p.empty()) return p;
    if (step_ < 0 || step_ >= max_step_count)
      return ember::detail::concat("invalid step count ", step_, " (must be in [0, 2^53))");
    return {};
  }

  const RMSpropOptions& options() const { return options_; }
  RMSpropOptions& options() { return options_; }
  std::int64_t step_count() const { return step_; }
  // State, as torch's optimizer.state[p]: square_avg, momentum_buffer (empty until a step with
  // momentum), grad_avg (centered).
  std::vector<Tensor<T>>& square_avg() { return square_avg_; }
  std::vector<Tensor<T>>& momentum_buffer() { return momentum_buffer_; }
  std::vector<Tensor<T>>& grad_avg() { return grad_avg_; }

 private:
  double& lr_ref() override { return options_.lr; }
  double* momentum_ref() override { return &options_.momentum; }

  RMSpropOptions options_;
  std::vector<Tensor<T>> square_avg_, momentum_buffer_, grad_avg_;
  std::int64_t step_ = 0;
};

template <class T>
RMSprop(std::vector<nn::Parameter<T>*>, RMSpropOptions = {}) -> RMSprop<T>;

}  // namespace ember::optim

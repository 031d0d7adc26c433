// optim::RMSprop, torch.optim.RMSprop's update rule to the letter (torch 1.13, single-tensor path):
//   g = grad + weight_decay * p
//   v = alpha * v + (1 - alpha) * g * g                      (square_avg)
//   a = alpha * a + (1 - alpha) * g                          (grad_avg, centered)
//   avg = sqrt(centered ? v - a * a : v) + eps
//   b = momentum * b + g / avg;  p = p - lr * b              (momentum > 0)
//   p = p - lr * g / avg                                     (otherwise)
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "ember/detail/eigen.hpp"

#include "ember/error.hpp"
#include "ember/nn/module.hpp"
#include "ember/optim/optimizer.hpp"
#include "ember/tensor.hpp"
#include "ember/threads.hpp"

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
    const auto& params = this->params();
    // grad_avg is made with the optimizer when centered; centered set through options() later
    // is taken at the first step (torch makes its state there) and refused after it (torch's
    // step fails then: its state has no grad_avg).
    if (options_.centered) {
      for (std::size_t k = 0; k < params.size(); ++k)
        if (grad_avg_[k].numel() != params[k]->value.numel()) {
          ember::detail::check(step_ == 0, "RMSprop: centered was turned on after the first step; torch's state ",
                               "has no grad_avg then (set it at construction)");
          grad_avg_[k] = Tensor<T>(params[k]->value.shape());
        }
    }
    ++step_;
    // Scalars rounded to T as torch's kernels round them.
    const Constants c{static_cast<T>(options_.alpha), static_cast<T>(1 - options_.alpha), static_cast<T>(options_.eps),
                      static_cast<T>(options_.weight_decay), static_cast<T>(options_.momentum),
                      static_cast<T>(-options_.lr)};
    const bool use_momentum = options_.momentum > 0;
    for (std::size_t k = 0; k < params.size(); ++k) {
      // Zeros from the first step with momentum on (torch makes them at the first step).
      if (use_momentum && momentum_buffer_[k].empty()) momentum_buffer_[k] = Tensor<T>(params[k]->value.shape());
      const Slot s{params[k]->value.data(), std::as_const(params[k]->grad).data(), square_avg_[k].data(),
                   grad_avg_[k].data(), use_momentum ? momentum_buffer_[k].data() : nullptr, params[k]->value.numel()};
      if (options_.centered) use_momentum ? update<true, true>(s, c) : update<true, false>(s, c);
      else use_momentum ? update<false, true>(s, c) : update<false, false>(s, c);
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

  struct Constants {
    T alpha, one_minus_alpha, eps, weight_decay, momentum, neg_lr;
  };
  struct Slot {
    T* p;
    const T* grad;
    T* v;  // square_avg, as p
    T* a;  // grad_avg (centered), as p
    T* b;  // momentum_buffer (momentum > 0), as p
    index_t n;
  };

  // As Adam's: L1-sized chunks of Eigen array expressions (which vectorise the square roots),
  // element-wise, so the result does not depend on the number of threads.
  template <bool Centered, bool Momentum>
  static void update(const Slot& s, const Constants& c) {
    using Map = Eigen::Map<Eigen::Array<T, Eigen::Dynamic, 1>>;
    using ConstMap = Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, 1>>;
    constexpr index_t chunk = 2048;
    const index_t chunks = (s.n + chunk - 1) / chunk;
    ember::detail::parallel_for(chunks, s.n > (1 << 15), [&](index_t k_begin, index_t k_end) {
      for (index_t k = k_begin; k < k_end; ++k) {
        const index_t first = k * chunk, len = std::min(chunk, s.n - first);
        Map p(s.p + first, len), v(s.v + first, len);
        ConstMap grad(s.grad + first, len);
        T g_buffer[chunk], avg_buffer[chunk];  // g (with weight decay) and avg of this chunk
        Map g(g_buffer, len), avg(avg_buffer, len);
        if (c.weight_decay != T(0)) g = grad + c.weight_decay * p;
        else g = grad;
        v = v * c.alpha + c.one_minus_alpha * g * g;
        if constexpr (Centered) {
          Map a(s.a + first, len);
          a = a * c.alpha + c.one_minus_alpha * g;
          avg = (v + T(-1) * a * a).sqrt() + c.eps;
        } else {
          avg = v.sqrt() + c.eps;
        }
        if constexpr (Momentum) {
          Map b(s.b + first, len);
          b = b * c.momentum + g / avg;
          p += c.neg_lr * b;
        } else {
          p += c.neg_lr * g / avg;
        }
      }
    });
  }

  RMSpropOptions options_;
  std::vector<Tensor<T>> square_avg_, momentum_buffer_, grad_avg_;
  std::int64_t step_ = 0;
};

template <class T>
RMSprop(std::vector<nn::Parameter<T>*>, RMSpropOptions = {}) -> RMSprop<T>;

}  // namespace ember::optim

// optim::Adam, torch.optim.Adam's update rule to the letter (torch 1.13, single-tensor path):
//   g = grad + weight_decay * p
//   m = beta1 * m + (1 - beta1) * g
//   v = beta2 * v + (1 - beta2) * g * g
//   vmax = max(vmax, v)                            (amsgrad)
//   denom = sqrt(amsgrad ? vmax : v) / sqrt(1 - beta2^t) + eps
//   p = p - lr / (1 - beta1^t) * m / denom
// and optim::AdamW (optim/adamw.hpp) is the same class with the weight decay decoupled, as in
// torch's own code: p = p * (1 - lr * weight_decay) first, then the moments of grad alone, then
// p = p + (-lr / (1 - beta1^t)) * m / denom (torch's AdamW kernel's order of operations).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "ember/detail/eigen.hpp"

#include "ember/error.hpp"
#include "ember/kernels/optim.hpp"
#include "ember/nn/module.hpp"
#include "ember/optim/optimizer.hpp"
#include "ember/tensor.hpp"
#include "ember/threads.hpp"

namespace ember::optim {

struct AdamOptions {
  double lr = 1e-3;
  std::pair<double, double> betas = {0.9, 0.999};
  double eps = 1e-8;
  double weight_decay = 0;
  bool amsgrad = false;
};

namespace detail {

// Adam (Decoupled = false) and AdamW (Decoupled = true): one implementation, as in PyTorch.
template <class T, class Options, bool Decoupled>
class AdamFamily : public Optimizer<T> {
 public:
  AdamFamily(std::vector<nn::Parameter<T>*> params, const Options& options)
      : Optimizer<T>(std::move(params), Decoupled ? "AdamW" : "Adam"), options_(options) {
    this->check_options();
    for (auto* p : this->params()) {
      exp_avg_.emplace_back(p->value.shape());
      exp_avg_sq_.emplace_back(p->value.shape());
      max_exp_avg_sq_.emplace_back(options.amsgrad ? p->value.shape() : Shape{0});
    }
  }

  void step() override {
    ember::detail::check(step_ < max_step_count, this->kind(), ": the step count ", step_, " reached its limit");
    const auto& params = this->params();
    // max_exp_avg_sq is made with the optimizer when amsgrad; amsgrad set through options()
    // later is taken at the first step (torch makes its state there) and refused after it
    // (torch's step fails then: its state has no max_exp_avg_sq).
    if (options_.amsgrad) {
      for (std::size_t k = 0; k < params.size(); ++k)
        if (max_exp_avg_sq_[k].numel() != params[k]->value.numel()) {
          ember::detail::check(step_ == 0, this->kind(), ": amsgrad was turned on after the first step; torch's state ",
                               "has no max_exp_avg_sq then (set it at construction)");
          max_exp_avg_sq_[k] = Tensor<T>(params[k]->value.shape());
        }
    }
    ++step_;
    const auto [beta1, beta2] = options_.betas;
    const double t = static_cast<double>(step_);
    // Scalars computed in double and rounded to T, as torch's Python code and kernels do.
    const double step_size = options_.lr / (1 - std::pow(beta1, t));
    const Constants c{static_cast<T>(beta1),
                      static_cast<T>(1 - beta1),
                      static_cast<T>(beta2),
                      static_cast<T>(1 - beta2),
                      static_cast<T>(Decoupled ? 1 - options_.lr * options_.weight_decay : options_.weight_decay),
                      static_cast<T>(options_.eps),
                      static_cast<T>(Decoupled ? -step_size : step_size),
                      static_cast<T>(std::sqrt(1 - std::pow(beta2, t)))};
    const bool decay = Decoupled || options_.weight_decay != 0;
    for (std::size_t k = 0; k < params.size(); ++k) {
      Slot s{params[k]->value.data(), std::as_const(params[k]->grad).data(), exp_avg_[k].data(), exp_avg_sq_[k].data(),
             max_exp_avg_sq_[k].data(), params[k]->value.numel()};
      if (options_.amsgrad) decay ? update<true, true>(s, c) : update<true, false>(s, c);
      else decay ? update<false, true>(s, c) : update<false, false>(s, c);
    }
  }

  double lr() const override { return options_.lr; }

  // torch's optimizer.state[p] (step, exp_avg, exp_avg_sq, max_exp_avg_sq) and param_groups.
  void visit_state(OptimizerStateVisitor<T>& v) override {
    v.count("step", step_);
    v.scalar("lr", options_.lr);
    v.scalar("beta1", options_.betas.first);
    v.scalar("beta2", options_.betas.second);
    v.scalar("eps", options_.eps);
    v.scalar("weight_decay", options_.weight_decay);
    v.flag("amsgrad", options_.amsgrad, true);
    for (std::size_t k = 0; k < exp_avg_.size(); ++k) {
      v.tensor(k, "exp_avg", exp_avg_[k], false);
      v.tensor(k, "exp_avg_sq", exp_avg_sq_[k], false);
      if (options_.amsgrad) v.tensor(k, "max_exp_avg_sq", max_exp_avg_sq_[k], false);
    }
  }
  std::string options_problem() const override {
    const auto& o = options_;
    for (const std::string& p : {this->range_problem("learning rate", o.lr, 0, 1e30), this->range_problem("eps", o.eps, 0, 1e30),
                                 this->range_problem("beta1", o.betas.first, 0, 1, true),
                                 this->range_problem("beta2", o.betas.second, 0, 1, true),
                                 this->range_problem("weight_decay", o.weight_decay, 0, 1e30)})
      if (!p.empty()) return p;
    if (step_ < 0 || step_ >= max_step_count)
      return ember::detail::concat("invalid step count ", step_, " (must be in [0, 2^53))");
    return {};
  }


  const Options& options() const { return options_; }
  Options& options() { return options_; }
  std::int64_t step_count() const { return step_; }
  // State, as torch's optimizer.state[p]: step, exp_avg, exp_avg_sq, max_exp_avg_sq.
  std::vector<Tensor<T>>& exp_avg() { return exp_avg_; }
  std::vector<Tensor<T>>& exp_avg_sq() { return exp_avg_sq_; }
  std::vector<Tensor<T>>& max_exp_avg_sq() { return max_exp_avg_sq_; }
  void set_step_count(std::int64_t step) {
    ember::detail::check(step >= 0 && step < max_step_count, this->kind(), ": set_step_count: invalid step count ", step,
                         " (must be in [0, 2^53))");
    step_ = step;
  }

 private:
  double& lr_ref() override { return options_.lr; }
  double* momentum_ref() override { return &options_.betas.first; }

  // Adam: weight_decay is the coupled decay, step_size lr / (1 - beta1^t); AdamW: weight_decay is
  // the factor 1 - lr * weight_decay, step_size its negation (torch's AdamW kernel adds it).
  using Constants = kernels::AdamConstants<T>;
  struct Slot {
    T* p;
    const T* grad;
    T* m;
    T* v;
    T* vmax;
    index_t n;
  };

  // A parameter in chunks that stay in L1 (OpenMP splits them among threads), each updated by
  // kernels::adam_update in packets of the best instruction set the CPU has. Element-wise, so the
  // result does not depend on the number of threads.
  template <bool Amsgrad, bool Decay>
  static void update(const Slot& s, const Constants& c) {
    constexpr index_t chunk = 2048;
    const index_t chunks = (s.n + chunk - 1) / chunk;
    ember::detail::parallel_for(chunks, s.n > (1 << 15), [&](index_t k_begin, index_t k_end) {
      for (index_t k = k_begin; k < k_end; ++k) {
        const index_t first = k * chunk, len = std::min(chunk, s.n - first);
        kernels::adam_update<Amsgrad, Decay, Decoupled>(c, s.p + first, s.grad + first, s.m + first, s.v + first,
                                                        Amsgrad ? s.vmax + first : nullptr, len);
      }
    });
  }

  Options options_;
  std::vector<Tensor<T>> exp_avg_, exp_avg_sq_, max_exp_avg_sq_;
  std::int64_t step_ = 0;
};

}  // namespace detail

template <class T = float>
class Adam final : public detail::AdamFamily<T, AdamOptions, false> {
 public:
  using Options = AdamOptions;
  explicit Adam(std::vector<nn::Parameter<T>*> params, const AdamOptions& options = {})
      : detail::AdamFamily<T, AdamOptions, false>(std::move(params), options) {}
};

template <class T>
Adam(std::vector<nn::Parameter<T>*>, AdamOptions = {}) -> Adam<T>;

}  // namespace ember::optim

// optim::Adam, torch.optim.Adam's update rule to the letter (torch 1.13, single-tensor path):
//   g = grad + weight_decay * p
//   m = beta1 * m + (1 - beta1) * g
//   v = beta2 * v + (1 - beta2) * g * g
//   vmax = max(vmax, v)                            (amsgrad)
//   denom = sqrt(amsgrad ? vmax : v) / sqrt(1 - beta2^t) + eps
//   p = p - lr / (1 - beta1^t) * m / denom
#pragma once

#include <cmath>
#include <cstdint>
#include <utility>
#include <vector>

#include "ember/error.hpp"
#include "ember/nn/module.hpp"
#include "ember/tensor.hpp"

namespace ember::optim {

struct AdamOptions {
  double lr = 1e-3;
  std::pair<double, double> betas = {0.9, 0.999};
  double eps = 1e-8;
  double weight_decay = 0;
  bool amsgrad = false;
};

template <class T = float>
class Adam {
 public:
  using Options = AdamOptions;

  explicit Adam(std::vector<nn::Parameter<T>*> params, const AdamOptions& options = {})
      : params_(std::move(params)), options_(options) {
    const auto [beta1, beta2] = options.betas;
    ember::detail::check(options.lr >= 0, "Adam: invalid learning rate ", options.lr, " (must be >= 0)");
    ember::detail::check(options.eps >= 0, "Adam: invalid eps ", options.eps, " (must be >= 0)");
    ember::detail::check(beta1 >= 0 && beta1 < 1, "Adam: invalid beta1 ", beta1, " (must be in [0, 1))");
    ember::detail::check(beta2 >= 0 && beta2 < 1, "Adam: invalid beta2 ", beta2, " (must be in [0, 1))");
    ember::detail::check(options.weight_decay >= 0, "Adam: invalid weight_decay ", options.weight_decay,
                         " (must be >= 0)");
    ember::detail::check(!params_.empty(), "Adam: got an empty parameter list");
    for (auto* p : params_) {
      exp_avg_.emplace_back(p->value.shape());
      exp_avg_sq_.emplace_back(p->value.shape());
      max_exp_avg_sq_.emplace_back(options.amsgrad ? p->value.shape() : Shape{0});
    }
  }

  void step() {
    ++step_;
    const auto [beta1_d, beta2_d] = options_.betas;
    const T beta1 = static_cast<T>(beta1_d), beta2 = static_cast<T>(beta2_d);
    const T one_minus_beta1 = static_cast<T>(1 - beta1_d), one_minus_beta2 = static_cast<T>(1 - beta2_d);
    const T wd = static_cast<T>(options_.weight_decay), eps = static_cast<T>(options_.eps);
    const double t = static_cast<double>(step_);
    const T step_size = static_cast<T>(options_.lr / (1 - std::pow(beta1_d, t)));
    const T bias_correction2_sqrt = static_cast<T>(std::sqrt(1 - std::pow(beta2_d, t)));
    const bool amsgrad = options_.amsgrad;
    for (std::size_t k = 0; k < params_.size(); ++k) {
      T* p = params_[k]->value.data();
      const T* grad = params_[k]->grad.data();
      T* m = exp_avg_[k].data();
      T* v = exp_avg_sq_[k].data();
      T* vmax = max_exp_avg_sq_[k].data();
      const index_t n = params_[k]->value.numel();
#pragma omp simd
      for (index_t i = 0; i < n; ++i) {
        const T g = wd != T(0) ? grad[i] + wd * p[i] : grad[i];
        m[i] = m[i] * beta1 + one_minus_beta1 * g;
        v[i] = v[i] * beta2 + one_minus_beta2 * g * g;
        T second = v[i];
        if (amsgrad) second = vmax[i] = std::max(vmax[i], v[i]);
        const T denom = std::sqrt(second) / bias_correction2_sqrt + eps;
        p[i] -= step_size * (m[i] / denom);
      }
    }
  }

  void zero_grad() {
    for (auto* p : params_) p->grad.zero();
  }

  const AdamOptions& options() const { return options_; }
  AdamOptions& options() { return options_; }
  const std::vector<nn::Parameter<T>*>& params() const { return params_; }
  std::int64_t step_count() const { return step_; }
  // State, as torch's optimizer.state[p]: step, exp_avg, exp_avg_sq, max_exp_avg_sq.
  std::vector<Tensor<T>>& exp_avg() { return exp_avg_; }
  std::vector<Tensor<T>>& exp_avg_sq() { return exp_avg_sq_; }
  std::vector<Tensor<T>>& max_exp_avg_sq() { return max_exp_avg_sq_; }
  void set_step_count(std::int64_t step) { step_ = step; }

 private:
  std::vector<nn::Parameter<T>*> params_;
  AdamOptions options_;
  std::vector<Tensor<T>> exp_avg_, exp_avg_sq_, max_exp_avg_sq_;
  std::int64_t step_ = 0;
};

template <class T>
Adam(std::vector<nn::Parameter<T>*>, AdamOptions = {}) -> Adam<T>;

}  // namespace ember::optim

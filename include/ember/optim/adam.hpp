// optim::Adam, torch.optim.Adam's update rule to the letter (torch 1.13, single-tensor path):
//   g = grad + weight_decay * p
//   m = beta1 * m + (1 - beta1) * g
//   v = beta2 * v + (1 - beta2) * g * g
//   vmax = max(vmax, v)                            (amsgrad)
//   denom = sqrt(amsgrad ? vmax : v) / sqrt(1 - beta2^t) + eps
//   p = p - lr / (1 - beta1^t) * m / denom
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <utility>
#include <vector>

#include "ember/detail/eigen.hpp"

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
    const auto [beta1, beta2] = options_.betas;
    const double t = static_cast<double>(step_);
    const Constants c{static_cast<T>(beta1),
                      static_cast<T>(1 - beta1),
                      static_cast<T>(beta2),
                      static_cast<T>(1 - beta2),
                      static_cast<T>(options_.weight_decay),
                      static_cast<T>(options_.eps),
                      static_cast<T>(options_.lr / (1 - std::pow(beta1, t))),
                      static_cast<T>(std::sqrt(1 - std::pow(beta2, t)))};
    const bool decay = options_.weight_decay != 0;
    for (std::size_t k = 0; k < params_.size(); ++k) {
      Slot s{params_[k]->value.data(), params_[k]->grad.data(), exp_avg_[k].data(), exp_avg_sq_[k].data(),
             max_exp_avg_sq_[k].data(), params_[k]->value.numel()};
      if (options_.amsgrad) decay ? update<true, true>(s, c) : update<true, false>(s, c);
      else decay ? update<false, true>(s, c) : update<false, false>(s, c);
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
  struct Constants {
    T beta1, one_minus_beta1, beta2, one_minus_beta2, weight_decay, eps, step_size, bias_correction2_sqrt;
  };
  struct Slot {
    T* p;
    const T* grad;
    T* m;
    T* v;
    T* vmax;
    index_t n;
  };

  // A parameter in chunks that stay in L1 (OpenMP splits them among threads); each chunk in
  // Eigen array expressions, which vectorise (a plain loop calling std::sqrt does not, because
  // of errno). Element-wise, so the result does not depend on the number of threads.
  template <bool Amsgrad, bool Decay>
  static void update(const Slot& s, const Constants& c) {
    using Map = Eigen::Map<Eigen::Array<T, Eigen::Dynamic, 1>>;
    using ConstMap = Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, 1>>;
    constexpr index_t chunk = 2048;
    const index_t chunks = (s.n + chunk - 1) / chunk;
#pragma omp parallel for schedule(static) if (s.n > (1 << 15))
    for (index_t k = 0; k < chunks; ++k) {
      const index_t first = k * chunk, len = std::min(chunk, s.n - first);
      Map p(s.p + first, len), m(s.m + first, len), v(s.v + first, len);
      ConstMap grad(s.grad + first, len);
      if constexpr (Decay) {
        m = m * c.beta1 + c.one_minus_beta1 * (grad + c.weight_decay * p);
        v = v * c.beta2 + c.one_minus_beta2 * (grad + c.weight_decay * p).square();
      } else {
        m = m * c.beta1 + c.one_minus_beta1 * grad;
        v = v * c.beta2 + c.one_minus_beta2 * grad.square();
      }
      if constexpr (Amsgrad) {
        Map vmax(s.vmax + first, len);
        vmax = vmax.max(v);
        p -= c.step_size * (m / (vmax.sqrt() / c.bias_correction2_sqrt + c.eps));
      } else {
        p -= c.step_size * (m / (v.sqrt() / c.bias_correction2_sqrt + c.eps));
      }
    }
  }

  std::vector<nn::Parameter<T>*> params_;
  AdamOptions options_;
  std::vector<Tensor<T>> exp_avg_, exp_avg_sq_, max_exp_avg_sq_;
  std::int64_t step_ = 0;
};

template <class T>
Adam(std::vector<nn::Parameter<T>*>, AdamOptions = {}) -> Adam<T>;

}  // namespace ember::optim

// optim::Adadelta, torch.optim.Adadelta's update rule to the letter (torch 1.13, single-tensor path):
//   g = grad + weight_decay * p
//   v = rho * v + (1 - rho) * g * g                    (square_avg)
//   delta = sqrt(u + eps) / sqrt(v + eps) * g          (u: acc_delta)
//   u = rho * u + (1 - rho) * delta * delta
//   p = p - lr * delta
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

struct AdadeltaOptions {
  double lr = 1.0;
  double rho = 0.9;
  double eps = 1e-6;
  double weight_decay = 0;
};

template <class T = float>
class Adadelta final : public Optimizer<T> {
 public:
  using Options = AdadeltaOptions;

  explicit Adadelta(std::vector<nn::Parameter<T>*> params, const AdadeltaOptions& options = {})
      : Optimizer<T>(std::move(params), "Adadelta"), options_(options) {
    this->check_options();
    for (auto* p : this->params()) {
      square_avg_.emplace_back(p->value.shape());
      acc_delta_.emplace_back(p->value.shape());
    }
  }

  void step() override {
    ember::detail::check(step_ < max_step_count, "Adadelta: the step count ", step_, " reached its limit");
    ++step_;
    // Scalars rounded to T as torch's kernels round them; -lr as add_(delta, alpha=-lr).
    const Constants c{static_cast<T>(options_.rho), static_cast<T>(1 - options_.rho), static_cast<T>(options_.eps),
                      static_cast<T>(options_.weight_decay), static_cast<T>(-options_.lr)};
    const auto& params = this->params();
    for (std::size_t k = 0; k < params.size(); ++k) {
      const Slot s{params[k]->value.data(), std::as_const(params[k]->grad).data(), square_avg_[k].data(),
                   acc_delta_[k].data(), params[k]->value.numel()};
      options_.weight_decay != 0 ? update<true>(s, c) : update<false>(s, c);
    }
  }

  double lr() const override { return options_.lr; }

  // torch's optimizer.state[p] (step, square_avg, acc_delta) and param_groups.
  void visit_state(OptimizerStateVisitor<T>& v) override {
    v.count("step", step_);
    v.scalar("lr", options_.lr);
    v.scalar("rho", options_.rho);
    v.scalar("eps", options_.eps);
    v.scalar("weight_decay", options_.weight_decay);
    for (std::size_t k = 0; k < square_avg_.size(); ++k) {
      v.tensor(k, "square_avg", square_avg_[k], false);
      v.tensor(k, "acc_delta", acc_delta_[k], false);
    }
  }
  std::string options_problem() const override {
    const auto& o = options_;
    for (const std::string& p : {this->range_problem("learning rate", o.lr, 0, 1e30), this->range_problem("rho", o.rho, 0, 1),
                                 this->range_problem("eps", o.eps, 0, 1e30),
                                 this->range_problem("weight_decay", o.weight_decay, 0, 1e30)})
      if (!p.empty()) return p;
    if (step_ < 0 || step_ >= max_step_count)
      return ember::detail::concat("invalid step count ", step_, " (must be in [0, 2^53))");
    return {};
  }

  const AdadeltaOptions& options() const { return options_; }
  AdadeltaOptions& options() { return options_; }
  std::int64_t step_count() const { return step_; }
  // State, as torch's optimizer.state[p]: square_avg, acc_delta.
  std::vector<Tensor<T>>& square_avg() { return square_avg_; }
  std::vector<Tensor<T>>& acc_delta() { return acc_delta_; }

 private:
  double& lr_ref() override { return options_.lr; }

  struct Constants {
    T rho, one_minus_rho, eps, weight_decay, neg_lr;
  };
  struct Slot {
    T* p;
    const T* grad;
    T* v;  // square_avg, as p
    T* u;  // acc_delta, as p
    index_t n;
  };

  // As Adam's: L1-sized chunks of Eigen array expressions (which vectorise the square roots),
  // element-wise, so the result does not depend on the number of threads.
  template <bool Decay>
  static void update(const Slot& s, const Constants& c) {
    using Map = Eigen::Map<Eigen::Array<T, Eigen::Dynamic, 1>>;
    using ConstMap = Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, 1>>;
    constexpr index_t chunk = 2048;
    const index_t chunks = (s.n + chunk - 1) / chunk;
    ember::detail::parallel_for(chunks, s.n > (1 << 15), [&](index_t k_begin, index_t k_end) {
      for (index_t k = k_begin; k < k_end; ++k) {
        const index_t first = k * chunk, len = std::min(chunk, s.n - first);
        Map p(s.p + first, len), v(s.v + first, len), u(s.u + first, len);
        ConstMap grad(s.grad + first, len);
        T buffer[chunk];  // delta of this chunk
        Map delta(buffer, len);
        if constexpr (Decay) {
          v = v * c.rho + c.one_minus_rho * (grad + c.weight_decay * p) * (grad + c.weight_decay * p);
          delta = (u + c.eps).sqrt() / (v + c.eps).sqrt() * (grad + c.weight_decay * p);
        } else {
          v = v * c.rho + c.one_minus_rho * grad * grad;
          delta = (u + c.eps).sqrt() / (v + c.eps).sqrt() * grad;
        }
        u = u * c.rho + c.one_minus_rho * delta * delta;
        p += c.neg_lr * delta;
      }
    });
  }

  AdadeltaOptions options_;
  std::vector<Tensor<T>> square_avg_, acc_delta_;
  std::int64_t step_ = 0;
};

template <class T>
Adadelta(std::vector<nn::Parameter<T>*>, AdadeltaOptions = {}) -> Adadelta<T>;

}  // namespace ember::optim

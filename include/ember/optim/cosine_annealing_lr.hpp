// optim::CosineAnnealingLR, torch.optim.lr_scheduler.CosineAnnealingLR with torch 1.13's
// recursive get_lr (each rate from the previous one, so the doubles are torch's; the closed form
// eta_min + (base_lr - eta_min) * (1 + cos(pi * epoch / T_max)) / 2 differs in the last bits):
//   lr(0) = the optimizer's
//   lr(e) = lr(e-1) + (base_lr - eta_min) * (1 - cos(pi / T_max)) / 2          when (e - 1 - T_max) % (2 T_max) == 0
//   lr(e) = (1 + cos(pi e / T_max)) / (1 + cos(pi (e-1) / T_max)) * (lr(e-1) - eta_min) + eta_min   otherwise
// Past T_max the rate rises again, as torch's.
#pragma once

#include <cmath>
#include <cstdint>
#include <numbers>
#include <string>

#include "ember/error.hpp"
#include "ember/optim/lr_scheduler.hpp"
#include "ember/optim/optimizer.hpp"

namespace ember::optim {

template <class T = float>
class CosineAnnealingLR final : public LRScheduler<T> {
 public:
  CosineAnnealingLR(Optimizer<T>& optimizer, std::int64_t T_max, double eta_min = 0)
      : LRScheduler<T>(optimizer, "CosineAnnealingLR"), T_max_(T_max), eta_min_(eta_min) {
    this->start();
  }

  std::int64_t T_max() const { return T_max_; }
  double eta_min() const { return eta_min_; }

  void visit_state(ScheduleStateVisitor& v) override {
    LRScheduler<T>::visit_state(v);
    v.count("T_max", T_max_);
    v.scalar("eta_min", eta_min_);
  }
  std::string options_problem() const override {
    if (T_max_ < 1 || T_max_ >= max_step_count) return ember::detail::concat("invalid T_max ", T_max_, " (must be in [1, 2^53))");
    if (!std::isfinite(eta_min_) || eta_min_ < 0)
      return ember::detail::concat("invalid eta_min ", eta_min_, " (must be finite and >= 0)");
    return LRScheduler<T>::options_problem();
  }

 protected:
  double next_lr(std::int64_t epoch) override {
    constexpr double pi = std::numbers::pi;
    const double lr = this->optimizer().lr(), t_max = static_cast<double>(T_max_), e = static_cast<double>(epoch);
    if (epoch == 0) return lr;
    if ((epoch - 1 - T_max_) % (2 * T_max_) == 0) return lr + detail::rounded_product(this->base_lr() - eta_min_, 1 - std::cos(pi / t_max)) / 2;
    return detail::rounded_product((1 + std::cos(pi * e / t_max)) / (1 + std::cos(pi * (e - 1) / t_max)),
                                   lr - eta_min_) +
           eta_min_;
  }

 private:
  std::int64_t T_max_;
  double eta_min_;
};

template <class T>
CosineAnnealingLR(Optimizer<T>&, std::int64_t, double = 0) -> CosineAnnealingLR<T>;

}  // namespace ember::optim

// optim::StepLR, torch.optim.lr_scheduler.StepLR (torch 1.13's recursive get_lr): the rate is
// multiplied by gamma every step_size epochs,
//   lr(epoch) = lr(epoch - 1) * (epoch % step_size == 0 ? gamma : 1),   lr(0) = the optimizer's.
#pragma once

#include <cstdint>
#include <string>

#include "ember/error.hpp"
#include "ember/optim/lr_scheduler.hpp"
#include "ember/optim/optimizer.hpp"

namespace ember::optim {

template <class T = float>
class StepLR final : public LRScheduler<T> {
 public:
  StepLR(Optimizer<T>& optimizer, std::int64_t step_size, double gamma = 0.1)
      : LRScheduler<T>(optimizer, "StepLR"), step_size_(step_size), gamma_(gamma) {
    this->start();
  }

  std::int64_t step_size() const { return step_size_; }
  double gamma() const { return gamma_; }

  void visit_state(ScheduleStateVisitor& v) override {
    LRScheduler<T>::visit_state(v);
    v.count("step_size", step_size_);
    v.scalar("gamma", gamma_);
  }
  std::string options_problem() const override {
    if (step_size_ < 1) return ember::detail::concat("invalid step_size ", step_size_, " (must be >= 1)");
    if (!std::isfinite(gamma_) || gamma_ < 0) return ember::detail::concat("invalid gamma ", gamma_, " (must be finite and >= 0)");
    return LRScheduler<T>::options_problem();
  }

 protected:
  double next_lr(std::int64_t epoch) override {
    const double lr = this->optimizer().lr();
    return epoch == 0 || epoch % step_size_ != 0 ? lr : lr * gamma_;
  }

 private:
  std::int64_t step_size_;
  double gamma_;
};

template <class T>
StepLR(Optimizer<T>&, std::int64_t, double = 0.1) -> StepLR<T>;

}  // namespace ember::optim

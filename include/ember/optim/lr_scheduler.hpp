// optim::LRScheduler<T>: what every learning-rate schedule shares, as torch.optim.lr_scheduler's
// _LRScheduler with one parameter group. Constructing a schedule takes its first step (epoch 0),
// as torch's does; each step() computes the next rate from the optimizer's current one (torch's
// recursive get_lr, so the rates are the same doubles as torch's) and sets it with set_lr, so the
// optimizer's lr() reads it. Its state (last_epoch, base and last rate, options) goes through one
// visitor, so io's checkpoints save every schedule the same way.
//
//   optim::StepLR schedule(optimizer, 1, 0.7);
//   for (epoch ...) { train(...); schedule.step(); }
#pragma once

#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>

#include "ember/error.hpp"
#include "ember/optim/optimizer.hpp"

namespace ember::optim {

namespace detail {
// a * b rounded to a double before anything is added to it, as Python rounds it. A compiler
// allowed to contract (g++'s default -ffp-contract=fast on an FMA machine: -march=haswell or
// native) fuses a * b + c into one fma, and the rates then differ from torch's in the last bit
// (and OneCycleLR's phase end 0.1 * 10 - 1 becomes 5.6e-17 instead of 0). The schedules compute
// once per step, so the store costs nothing that matters.
inline double rounded_product(double a, double b) {
  volatile double p = a * b;
  return p;
}
}  // namespace detail

// What LRScheduler::visit_state yields: the schedule's state and options, all restored from a
// checkpoint (as torch's scheduler.load_state_dict restores its __dict__).
class ScheduleStateVisitor {
 public:
  virtual void scalar(std::string_view name, double& v) = 0;
  virtual void count(std::string_view name, std::int64_t& v) = 0;
  virtual void flag(std::string_view name, bool& v) = 0;

 protected:
  ~ScheduleStateVisitor() = default;
};

template <class T = float>
class LRScheduler {
 public:
  LRScheduler(Optimizer<T>& optimizer, const char* kind)
      : optimizer_(optimizer), kind_(kind), base_lr_(optimizer.initial_lr_.value_or(optimizer.lr())), last_lr_(optimizer.lr()) {}
  LRScheduler(const LRScheduler&) = delete;
  LRScheduler& operator=(const LRScheduler&) = delete;
  virtual ~LRScheduler() = default;

  // The next epoch's rate into the optimizer. Throws (and changes nothing) past the end of a
  // schedule with an end (OneCycleLR).
  void step() {
    ember::detail::check(last_epoch_ + 1 < max_step_count, kind_, ": the epoch count ", last_epoch_, " reached its limit");
    const double lr = next_lr(last_epoch_ + 1);
    ember::detail::check(std::isfinite(lr), kind_, ": the rate of epoch ", last_epoch_ + 1, " is ", lr);
    ++last_epoch_;
    optimizer_.lr_ref() = lr;  // not set_lr: a schedule may extrapolate below 0 as torch's (OneCycleLR, linear)
    last_lr_ = lr;
  }
  // The rate the last step() set (torch's get_last_lr()[0]: one parameter group).
  double get_last_lr() const { return last_lr_; }
  // Steps taken since construction, minus one (the constructor's step is epoch 0), as torch's.
  std::int64_t last_epoch() const { return last_epoch_; }
  // torch's base_lrs[0]: the optimizer's initial_lr, which the first schedule made on it set to
  // the rate then (torch's group.setdefault('initial_lr', group['lr'])); OneCycleLR's is
  // max_lr / div_factor.
  double base_lr() const { return base_lr_; }

  const char* kind() const { return kind_; }
  Optimizer<T>& optimizer() const { return optimizer_; }

  virtual void visit_state(ScheduleStateVisitor& v) {
    v.count("last_epoch", last_epoch_);
    v.scalar("base_lr", base_lr_);
    v.scalar("last_lr", last_lr_);
  }
  // Why the options or counts are invalid, empty when they are valid: checked at construction
  // and when a checkpoint is loaded.
  virtual std::string options_problem() const {
    if (last_epoch_ < -1 || last_epoch_ >= max_step_count)  // -1: before the first step
      return ember::detail::concat("invalid last_epoch ", last_epoch_, " (must be in [-1, 2^53))");
    if (!std::isfinite(base_lr_) || base_lr_ < 0)
      return ember::detail::concat("invalid base learning rate ", base_lr_, " (must be finite and >= 0)");
    if (!std::isfinite(last_lr_)) return ember::detail::concat("invalid last learning rate ", last_lr_, " (must be finite)");
    return {};
  }

 protected:
  // The rate of `epoch` (last_epoch() + 1), from the optimizer's current rate; may set other
  // options of the optimizer (OneCycleLR's momentum) once it cannot throw any more.
  virtual double next_lr(std::int64_t epoch) = 0;
  // For the derived constructors, after their options are set: checks them, then takes the
  // first step (epoch 0), as torch's constructor does, and sets the optimizer's initial_lr to
  // base_lr (the same value unless OneCycleLR set its own, which torch's also writes).
  void start() {
    const std::string problem = options_problem();
    ember::detail::check(problem.empty(), kind_, ": ", problem);
    step();
    optimizer_.initial_lr_ = base_lr_;
  }
  double& base_lr_ref() { return base_lr_; }
  // Writes the optimizer's momentum (or beta1) unchecked, as torch's schedules write the group's.
  void write_momentum(double m) {
    double* ref = optimizer_.momentum_ref();
    ember::detail::check(ref != nullptr, kind_, ": the optimizer (", optimizer_.kind(), ") has no momentum or beta1");
    *ref = m;
  }

 private:

  Optimizer<T>& optimizer_;
  const char* kind_;
  double base_lr_, last_lr_;
  std::int64_t last_epoch_ = -1;
};

}  // namespace ember::optim

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
      : optimizer_(optimizer), kind_(kind), base_lr_(optimizer.lr()), last_lr_(optimizer.lr()) {}
  LRScheduler(const LRScheduler&) = delete;
  LRScheduler& operator=(const LRScheduler&) = delete;
  virtual ~LRScheduler() = default;

  // The next epoch's rate into the optimizer. Throws (and changes nothing) past the end of a
  // schedule with an end (OneCycleLR).
  void step() {
    ember::detail::check(last_epoch_ + 1 < max_step_count, kind_, ": the epoch count ", last_epoch_, " reached its limit");
    const double lr = next_lr(last_epoch_ + 1);
    ++last_epoch_;
    optimizer_.set_lr(lr);
    last_lr_ = optimizer_.lr();
  }
  // The rate the last step() set (torch's get_last_lr()[0]: one parameter group).
  double get_last_lr() const { return last_lr_; }
  // Steps taken since construction, minus one (the constructor's step is epoch 0), as torch's.
  std::int64_t last_epoch() const { return last_epoch_; }
  // The optimizer's rate when the schedule was made (torch's base_lrs[0], its initial_lr).
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
    for (double lr : {base_lr_, last_lr_})
      if (!std::isfinite(lr) || lr < 0) return ember::detail::concat("invalid learning rate ", lr, " (must be finite and >= 0)");
    return {};
  }

 protected:
  // The rate of `epoch` (last_epoch() + 1), from the optimizer's current rate; may set other
  // options of the optimizer (OneCycleLR's momentum) once it cannot throw any more.
  virtual double next_lr(std::int64_t epoch) = 0;
  // For the derived constructors, after their options are set: checks them, then takes the
  // first step (epoch 0), as torch's constructor does.
  void start() {
    const std::string problem = options_problem();
    ember::detail::check(problem.empty(), kind_, ": ", problem);
    step();
  }
  double& base_lr_ref() { return base_lr_; }

 private:

  Optimizer<T>& optimizer_;
  const char* kind_;
  double base_lr_, last_lr_;
  std::int64_t last_epoch_ = -1;
};

}  // namespace ember::optim

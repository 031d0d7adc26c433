// optim::OneCycleLR, torch.optim.lr_scheduler.OneCycleLR (torch 1.13): the rate rises from
// max_lr / div_factor to max_lr over pct_start of total_steps, then falls to
// max_lr / div_factor / final_div_factor (three_phase: back to max_lr / div_factor first, then
// down), by cosine or linear annealing; with cycle_momentum the optimizer's momentum (SGD,
// RMSprop) or beta1 (Adam, AdamW) moves the other way, between max_momentum and base_momentum.
// Phase k runs from the previous phase's end_step to its own, and with pct the fraction of it
// done:
//   cos:    end + (start - end) / 2 * (cos(pi * pct) + 1)
//   linear: (end - start) * pct + start
// Construction takes step 0; total_steps more steps are allowed, the next one throws (as torch's).
// The last allowed one (step total_steps, whose rate a loop of total_steps optimizer steps never
// uses) extrapolates past the last phase: with linear annealing its rate is below min_lr and may
// be negative, as torch's.
#pragma once

#include <cmath>
#include <cstdint>
#include <numbers>
#include <string>

#include "ember/error.hpp"
#include "ember/optim/lr_scheduler.hpp"
#include "ember/optim/optimizer.hpp"

namespace ember::optim {

enum class Anneal : std::int64_t { cos = 0, linear = 1 };

struct OneCycleLROptions {
  double pct_start = 0.3;
  Anneal anneal_strategy = Anneal::cos;
  bool cycle_momentum = true;
  double base_momentum = 0.85;
  double max_momentum = 0.95;
  double div_factor = 25;
  double final_div_factor = 1e4;
  bool three_phase = false;
};

template <class T = float>
class OneCycleLR final : public LRScheduler<T> {
 public:
  using Options = OneCycleLROptions;

  OneCycleLR(Optimizer<T>& optimizer, double max_lr, std::int64_t total_steps, const OneCycleLROptions& options = {})
      : LRScheduler<T>(optimizer, "OneCycleLR"), max_lr_(max_lr), total_steps_(total_steps), options_(options) {
    ember::detail::check(!options.cycle_momentum || optimizer.has_momentum(), "OneCycleLR: the optimizer (",
                         optimizer.kind(), ") has no momentum or beta1 to cycle; pass .cycle_momentum = false");
    // torch sets the group's initial_lr, max_lr and min_lr (and momentum = max_momentum) here.
    this->base_lr_ref() = max_lr / options.div_factor;
    min_lr_ = this->base_lr() / options.final_div_factor;
    const std::string problem = options_problem();
    ember::detail::check(problem.empty(), "OneCycleLR: ", problem);
    const double old_momentum = options.cycle_momentum ? optimizer.momentum() : 0;
    if (options.cycle_momentum) optimizer.set_momentum(options.max_momentum);
    try {
      this->start();
    } catch (const Error&) {
      if (options.cycle_momentum) optimizer.set_momentum(old_momentum);  // a failed construction changes nothing
      throw;
    }
  }

  double max_lr() const { return max_lr_; }
  double min_lr() const { return min_lr_; }
  // The rate of step 0, max_lr / div_factor (torch's group['initial_lr']).
  double initial_lr() const { return this->base_lr(); }
  std::int64_t total_steps() const { return total_steps_; }
  const OneCycleLROptions& options() const { return options_; }

  void visit_state(ScheduleStateVisitor& v) override {
    LRScheduler<T>::visit_state(v);
    v.scalar("max_lr", max_lr_);
    v.scalar("min_lr", min_lr_);
    v.count("total_steps", total_steps_);
    v.scalar("pct_start", options_.pct_start);
    auto anneal = static_cast<std::int64_t>(options_.anneal_strategy);
    v.count("anneal_strategy", anneal);  // 0: cos, 1: linear
    options_.anneal_strategy = static_cast<Anneal>(anneal);
    v.flag("cycle_momentum", options_.cycle_momentum);
    v.scalar("base_momentum", options_.base_momentum);
    v.scalar("max_momentum", options_.max_momentum);
    v.scalar("div_factor", options_.div_factor);
    v.scalar("final_div_factor", options_.final_div_factor);
    v.flag("three_phase", options_.three_phase);
  }
  std::string options_problem() const override {
    const auto& o = options_;
    const auto positive = [](const char* name, double v) -> std::string {
      if (std::isfinite(v) && v > 0) return {};
      return ember::detail::concat("invalid ", name, " ", v, " (must be finite and > 0)");
    };
    if (total_steps_ < 1 || total_steps_ >= max_step_count)
      return ember::detail::concat("invalid total_steps ", total_steps_, " (must be in [1, 2^53))");
    if (!(o.pct_start >= 0 && o.pct_start <= 1))
      return ember::detail::concat("invalid pct_start ", o.pct_start, " (must be in [0, 1])");
    if (o.anneal_strategy != Anneal::cos && o.anneal_strategy != Anneal::linear)
      return ember::detail::concat("invalid anneal_strategy ", static_cast<std::int64_t>(o.anneal_strategy),
                                   " (must be Anneal::cos or Anneal::linear)");
    for (const std::string& p : {positive("div_factor", o.div_factor), positive("final_div_factor", o.final_div_factor)})
      if (!p.empty()) return p;
    for (double lr : {max_lr_, min_lr_})
      if (!std::isfinite(lr) || lr < 0) return ember::detail::concat("invalid max_lr ", lr, " (must be finite and >= 0)");
    if (o.cycle_momentum && !this->optimizer().has_momentum())
      return ember::detail::concat("cycle_momentum is on but the optimizer (", this->optimizer().kind(),
                                   ") has no momentum or beta1");
    for (double m : {o.base_momentum, o.max_momentum})
      if (!std::isfinite(m) || m < 0) return ember::detail::concat("invalid momentum ", m, " (must be finite and >= 0)");
    return LRScheduler<T>::options_problem();
  }

 protected:
  double next_lr(std::int64_t step) override {
    ember::detail::check(step <= total_steps_, "OneCycleLR: tried to step ", step + 1,
                         " times; the specified number of total steps is ", total_steps_);
    struct Phase {
      double end_step, start_lr, end_lr, start_momentum, end_momentum;
    };
    const auto& o = options_;
    const double initial = this->base_lr(), total = static_cast<double>(total_steps_);
    const double lo = o.base_momentum, hi = o.max_momentum;
    // torch's _schedule_phases, the end steps computed as in Python (left to right, in double).
    const Phase two[] = {{detail::rounded_product(o.pct_start, total) - 1, initial, max_lr_, hi, lo}, {total - 1, max_lr_, min_lr_, lo, hi}};
    const Phase three[] = {{detail::rounded_product(o.pct_start, total) - 1, initial, max_lr_, hi, lo},
                           {detail::rounded_product(2 * o.pct_start, total) - 2, max_lr_, initial, lo, hi},
                           {total - 1, initial, min_lr_, hi, hi}};
    const Phase* phases = o.three_phase ? three : two;
    const int count = o.three_phase ? 3 : 2;
    const double s = static_cast<double>(step);
    double start_step = 0;
    for (int i = 0; i < count; ++i) {
      const Phase& phase = phases[i];
      if (s <= phase.end_step || i == count - 1) {
        ember::detail::check(phase.end_step != start_step, "OneCycleLR: phase ", i + 1, " of the schedule has no steps (",
                             "pct_start ", o.pct_start, ", total_steps ", total_steps_,
                             "): torch divides by zero here");
        const double pct = (s - start_step) / (phase.end_step - start_step);
        if (o.cycle_momentum) this->write_momentum(anneal(phase.start_momentum, phase.end_momentum, pct));
        return anneal(phase.start_lr, phase.end_lr, pct);
      }
      start_step = phase.end_step;
    }
    return 0;  // not reached: the last phase always returns
  }

 private:
  double anneal(double start, double end, double pct) const {
    if (options_.anneal_strategy == Anneal::linear) return detail::rounded_product(end - start, pct) + start;
    const double cos_out = std::cos(std::numbers::pi * pct) + 1;
    return end + detail::rounded_product((start - end) / 2.0, cos_out);
  }

  double max_lr_, min_lr_ = 0;
  std::int64_t total_steps_;
  OneCycleLROptions options_;
};

template <class T>
OneCycleLR(Optimizer<T>&, double, std::int64_t, OneCycleLROptions = {}) -> OneCycleLR<T>;

}  // namespace ember::optim

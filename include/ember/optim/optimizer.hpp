// optim::Optimizer<T>: what every optimizer shares, as torch.optim.Optimizer with one parameter
// group: step(), zero_grad(), lr() / set_lr() (the hook LR schedules use), and its state
// (per-parameter tensors, options, step counts) through one visitor, so io's checkpoints are
// written once for every optimizer.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ember/error.hpp"
#include "ember/nn/module.hpp"
#include "ember/tensor.hpp"

namespace ember::optim {

template <class T>
class LRScheduler;

// What Optimizer::visit_state yields.
template <class T>
class OptimizerStateVisitor {
 public:
  // State tensor `name` of parameter k (Adam's exp_avg). `lazy`: it is empty until the first
  // step that needs it (SGD's momentum_buffer), and an empty one is not saved.
  virtual void tensor(std::size_t k, std::string_view name, Tensor<T>& t, bool lazy) = 0;
  // An option (lr, betas, ...), restored from a checkpoint as torch's load_state_dict restores
  // param_groups.
  virtual void scalar(std::string_view name, double& v) = 0;
  virtual void count(std::string_view name, std::int64_t& v) = 0;
  // A flag. `structural`: it decides which state exists (amsgrad), so a checkpoint's must match
  // rather than be restored.
  virtual void flag(std::string_view name, bool& v, bool structural) = 0;

 protected:
  ~OptimizerStateVisitor() = default;
};

// Step counts stay below this (far beyond any training run), so that no count overflows.
inline constexpr std::int64_t max_step_count = std::int64_t{1} << 53;

template <class T = float>
class Optimizer {
 public:
  using value_type = T;

  Optimizer(std::vector<nn::Parameter<T>*> params, const char* kind) : params_(std::move(params)), kind_(kind) {
    ember::detail::check(!params_.empty(), kind_, ": got an empty parameter list");
    for (std::size_t k = 0; k < params_.size(); ++k)
      ember::detail::check(params_[k] != nullptr, kind_, ": parameter ", k, " is null");
  }
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;
  virtual ~Optimizer() = default;

  virtual void step() = 0;
  void zero_grad() {
    for (auto* p : params_) p->grad.zero();
  }
  // The learning rate of the (one) parameter group.
  virtual double lr() const = 0;
  void set_lr(double lr) {
    const std::string problem = range_problem("learning rate", lr, 0, 1e30);  // as options_problem() checks it
    ember::detail::check(problem.empty(), kind_, ": set_lr: ", problem);
    lr_ref() = lr;
  }

  // The momentum an LR schedule may cycle (OneCycleLR), as torch cycles a param group's
  // 'momentum' or betas[0]: SGD's and RMSprop's momentum, Adam's and AdamW's beta1. Adadelta has
  // none.
  bool has_momentum() const { return const_cast<Optimizer*>(this)->momentum_ref() != nullptr; }
  double momentum() const {
    ember::detail::check(has_momentum(), kind_, ": has no momentum (or beta1)");
    return *const_cast<Optimizer*>(this)->momentum_ref();
  }
  // Sets it if the options stay valid (else throws and changes nothing).
  void set_momentum(double m) {
    ember::detail::check(has_momentum(), kind_, ": has no momentum (or beta1) to set");
    double& ref = *momentum_ref();
    const double old = ref;
    ref = m;
    if (std::string problem = options_problem(); !problem.empty()) {
      ref = old;
      throw Error(ember::detail::concat(kind_, ": set_momentum(", m, "): ", problem));
    }
  }

  // torch's group['initial_lr']: set by the first LR schedule made on this optimizer (to the rate
  // then; OneCycleLR sets its own), read as base_lr by every later one. Empty before any.
  std::optional<double> initial_lr() const { return initial_lr_; }

  const char* kind() const { return kind_; }
  const std::vector<nn::Parameter<T>*>& params() const { return params_; }

  virtual void visit_state(OptimizerStateVisitor<T>& v) = 0;
  // Why the options or counts are invalid, empty when they are valid: checked at construction
  // and (as loaded_options_problem) when a checkpoint is loaded.
  virtual std::string options_problem() const = 0;
  // options_problem() of options restored from a checkpoint, where the rate may be any finite
  // value: a schedule may have set a negative one (OneCycleLR's linear extrapolation at its last
  // step, as torch's), and torch's load_state_dict restores it as it is.
  std::string loaded_options_problem() {
    double& lr = lr_ref();
    if (!std::isfinite(lr)) return ember::detail::concat("invalid learning rate ", lr, " (must be finite)");
    const double saved = lr;
    lr = lr < 0 ? 0 : lr;  // the other options checked as usual
    std::string problem = options_problem();
    lr = saved;
    return problem;
  }

 protected:
  friend class LRScheduler<T>;  // sets the rate it computes, as torch's schedules write group['lr']
  virtual double& lr_ref() = 0;
  // The option set_momentum changes, nullptr when there is none.
  virtual double* momentum_ref() { return nullptr; }
  void check_options() const {
    const std::string problem = options_problem();
    ember::detail::check(problem.empty(), kind_, ": ", problem);
  }
  // "" when v is finite and in [lo, hi] (hi_open: [lo, hi)), else a sentence naming it.
  static std::string range_problem(const char* name, double v, double lo, double hi, bool hi_open = false) {
    if (std::isfinite(v) && v >= lo && (hi_open ? v < hi : v <= hi)) return {};
    return ember::detail::concat("invalid ", name, " ", v, " (must be finite and in [", lo, ", ", hi, hi_open ? "))" : "])");
  }

 private:
  std::vector<nn::Parameter<T>*> params_;
  const char* kind_;
  std::optional<double> initial_lr_;
};

}  // namespace ember::optim

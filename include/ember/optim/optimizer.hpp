// optim::Optimizer<T>: what every optimizer shares, as torch.optim.Optimizer with one parameter
// group: step(), zero_grad(), lr() / set_lr() (the hook LR schedules use), and its state
// (per-parameter tensors, options, step counts) through one visitor, so io's checkpoints are
// written once for every optimizer.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ember/error.hpp"
#include "ember/nn/module.hpp"
#include "ember/tensor.hpp"

namespace ember::optim {

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

  const char* kind() const { return kind_; }
  const std::vector<nn::Parameter<T>*>& params() const { return params_; }

  virtual void visit_state(OptimizerStateVisitor<T>& v) = 0;
  // Why the options or counts are invalid, empty when they are valid: checked at construction
  // and when a checkpoint is loaded.
  virtual std::string options_problem() const = 0;

 protected:
  virtual double& lr_ref() = 0;
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
};

}  // namespace ember::optim

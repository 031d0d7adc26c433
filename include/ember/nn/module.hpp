// What every layer shares: parameters as {value, grad} pairs with state_dict names,
// train/eval mode, and whether the layer's input needs a gradient.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "ember/tensor.hpp"

namespace ember::nn {

// A learnable tensor and the gradient that backward() accumulates into it.
template <class T = float>
struct Parameter {
  Tensor<T> value;
  Tensor<T> grad;
};

// One entry of named_parameters(): `for (auto& [name, p] : model.named_parameters())`.
template <class T = float>
struct NamedParameter {
  std::string name;
  Parameter<T>& param;
};

template <class T>
using NamedParameters = std::vector<NamedParameter<T>>;

namespace detail {
inline std::string join_name(const std::string& prefix, const std::string& name) {
  return prefix.empty() ? name : prefix + "." + name;
}
}  // namespace detail

// The common part of the layers (CRTP; no virtual functions). Derived provides
// named_parameters(prefix); everything else here derives from it.
template <class Derived, class T>
class Module {
 public:
  using value_type = T;

  std::vector<Parameter<T>*> parameters() {
    std::vector<Parameter<T>*> out;
    for (auto& [name, p] : self().named_parameters()) out.push_back(&p);
    return out;
  }
  void zero_grad() {
    for (auto& [name, p] : self().named_parameters()) p.grad.zero();
  }
  // In eval mode forward() keeps nothing for backward(), and backward() is an error.
  void train(bool on = true) { training_ = on; }
  void eval() { self().train(false); }
  bool is_training() const { return training_; }

  // Tells the layer whether backward() must compute dx. The first layer of a network does
  // not need it (PyTorch skips it too); for Linear and Conv2d that is a third of the backward.
  void set_needs_input_grad(bool on) { needs_input_grad_ = on; }
  bool needs_input_grad() const { return needs_input_grad_; }

 protected:
  bool training_ = true;
  bool needs_input_grad_ = true;

 private:
  Derived& self() { return static_cast<Derived&>(*this); }
};

// Parameterless layers: named_parameters() is empty.
template <class Derived, class T>
class Stateless : public Module<Derived, T> {
 public:
  NamedParameters<T> named_parameters(const std::string& = "") { return {}; }
};

}  // namespace ember::nn

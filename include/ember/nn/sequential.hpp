// nn::Sequential{layers...}: runs its layers in order, and their backward in reverse.
// A variadic template over the layer types (a flat tuple, no nesting), so the compiler sees
// every call and there is no virtual dispatch.
#pragma once

#include <cstddef>
#include <ostream>
#include <sstream>
#include <string>
#include <tuple>
#include <utility>

#include "ember/error.hpp"
#include "ember/nn/module.hpp"
#include "ember/tensor.hpp"

namespace ember::nn {

template <class First, class... Rest>
class Sequential {
 public:
  using value_type = typename First::value_type;
  static constexpr std::size_t size = 1 + sizeof...(Rest);

  explicit Sequential(First first, Rest... rest) : layers_(std::move(first), std::move(rest)...) {
    find_first_parametric();
    set_needs_input_grad(false);
  }

  const Tensor<value_type>& forward(const Tensor<value_type>& x) {
    const Tensor<value_type>* h = &x;
    for_each_layer([&](auto& layer, std::size_t i) { h = &call(i, "forward", [&] { return &layer.forward(*h); }); });
    return *h;
  }
  // Layers keep pointers to their inputs for backward: the input must outlive the step.
  const Tensor<value_type>& forward(Tensor<value_type>&&) = delete;

  // Returns dx, or an empty tensor when the model's input needs no gradient (the default:
  // like images in PyTorch, so the backward stops at the first layer with parameters, whose
  // dx is skipped). set_needs_input_grad(true) to get dx.
  const Tensor<value_type>& backward(const Tensor<value_type>& dy) {
    const Tensor<value_type>* g = &dy;
    for_each_layer_reversed([&](auto& layer, std::size_t i) {
      if (i < stop_) return;
      g = &call(i, "backward", [&] { return &layer.backward(*g); });
    });
    return stop_ == 0 ? *g : empty_;
  }

  // state_dict names: "0.weight", "0.bias", "2.weight", ...
  NamedParameters<value_type> named_parameters(const std::string& prefix = "") {
    NamedParameters<value_type> out;
    for_each_layer([&](auto& layer, std::size_t i) {
      for (auto& np : layer.named_parameters(detail::join_name(prefix, std::to_string(i)))) out.push_back(np);
    });
    return out;
  }
  std::vector<Parameter<value_type>*> parameters() {
    std::vector<Parameter<value_type>*> out;
    for (auto& [name, p] : named_parameters()) out.push_back(&p);
    return out;
  }
  void zero_grad() {
    for_each_layer([](auto& layer, std::size_t) { layer.zero_grad(); });
  }
  void train(bool on = true) {
    training_ = on;
    for_each_layer([on](auto& layer, std::size_t) { layer.train(on); });
  }
  void eval() { train(false); }
  bool is_training() const { return training_; }

  void set_needs_input_grad(bool on) {
    needs_input_grad_ = on;
    stop_ = on ? 0 : first_parametric_;
    for_each_layer([&](auto& layer, std::size_t i) {
      if (i == first_parametric_) layer.set_needs_input_grad(on);
    });
  }
  bool needs_input_grad() const { return needs_input_grad_; }

  // The i-th layer, as model[i] in PyTorch: model.get<1>().weight().
  template <std::size_t I>
  auto& get() {
    return std::get<I>(layers_);
  }

  friend std::ostream& operator<<(std::ostream& out, const Sequential& s) {
    out << "Sequential(\n";
    s.for_each_layer([&](const auto& layer, std::size_t i) { out << "  (" << i << "): " << layer << "\n"; });
    return out << ")";
  }

 private:
  template <class F>
  void for_each_layer(F&& f) {
    [&]<std::size_t... I>(std::index_sequence<I...>) { (f(std::get<I>(layers_), I), ...); }
    (std::make_index_sequence<size>{});
  }
  template <class F>
  void for_each_layer(F&& f) const {
    [&]<std::size_t... I>(std::index_sequence<I...>) { (f(std::get<I>(layers_), I), ...); }
    (std::make_index_sequence<size>{});
  }
  template <class F>
  void for_each_layer_reversed(F&& f) {
    [&]<std::size_t... I>(std::index_sequence<I...>) { (f(std::get<size - 1 - I>(layers_), size - 1 - I), ...); }
    (std::make_index_sequence<size>{});
  }

  // Runs one layer's forward or backward; a shape error gains which layer of the model
  // raised it and which layer produced its input.
  template <class F>
  const Tensor<value_type>& call(std::size_t i, const char* what, F&& f) {
    try {
      return *f();
    } catch (const Error& e) {
      std::ostringstream msg;
      msg << "Sequential layer " << i << " " << what << ": " << e.what();
      const bool forward = what[0] == 'f';
      if (forward && i > 0) {
        msg << " (its input is the output of layer " << i - 1 << ", ";
        for_each_layer([&](const auto& layer, std::size_t j) {
          if (j == i - 1) msg << layer;
        });
        msg << ")";
      }
      throw Error(msg.str());
    }
  }

  void find_first_parametric() {
    first_parametric_ = size;
    for_each_layer([&](auto& layer, std::size_t i) {
      if (first_parametric_ == size && !layer.named_parameters().empty()) first_parametric_ = i;
    });
    if (first_parametric_ == size) first_parametric_ = 0;
  }

  std::tuple<First, Rest...> layers_;
  bool training_ = true;
  bool needs_input_grad_ = false;
  std::size_t first_parametric_ = 0;
  std::size_t stop_ = 0;  // backward runs layers stop_ .. size-1
  Tensor<value_type> empty_;  // (0,): the dx of an input that needs no gradient
};

}  // namespace ember::nn

// nn::Sequential<T>: runs its layers in order, as torch.nn.Sequential; its backward is the
// recorded graph's (nn/graph.hpp), like any model's that writes only forward().
//
//   nn::Sequential model{nn::Flatten{}, nn::Linear{784, 128}, nn::ReLU{}, nn::Linear{128, 10}};
//   nn::Sequential<float> mlp;           // or built at run time:
//   mlp.push_back(nn::Linear{784, 128});  // any layer, a layer of your own, or another Sequential
//
// Layers are held by pointer to their base, Module<T> (one virtual call per layer and step), so a
// model's type does not depend on its layers. Names nest as PyTorch's: "0.1.weight". Sequential
// owns its layers: they are handed over as temporaries or with std::move (an lvalue would be a
// copy, trained apart from the original, so it does not compile).
#pragma once

#include <cstddef>
#include <memory>
#include <ostream>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "ember/error.hpp"
#include "ember/nn/module.hpp"
#include "ember/tensor.hpp"

namespace ember::nn {

namespace detail {

// A layer of your own that satisfies nn::Layer without deriving from Module<T>, as a Module<T>.
template <class L>
class LayerAdapter final : public Module<typename L::value_type> {
 public:
  using T = typename L::value_type;
  explicit LayerAdapter(L layer) : layer_(std::move(layer)) {
    this->training_ = layer_.is_training();
    Module<T>::set_needs_input_grad(layer_.needs_input_grad());
  }
  const Tensor<T>& forward(const Tensor<T>& x) override { return layer_.forward(x); }
  const Tensor<T>& backward(const Tensor<T>& dy) override { return layer_.backward(dy); }
  void visit_state(StateVisitor<T>& v, const Name* prefix = nullptr) override { layer_.visit_state(v, prefix); }
  void train(bool on = true) override {
    this->training_ = on;
    layer_.train(on);
  }
  void set_needs_input_grad(bool on) override {
    Module<T>::set_needs_input_grad(on);
    layer_.set_needs_input_grad(on);
  }
  void print(std::ostream& out, int = 0) const override { out << layer_; }
  L& get() { return layer_; }

 private:
  L layer_;
};

}  // namespace detail

template <class T = float>
class Sequential final : public Module<T> {
 public:
  // An empty model, to grow with push_back(). Its input needs no gradient (images, as in
  // PyTorch), so backward() stops at the first layer with parameters; set_needs_input_grad(true)
  // for dx.
  Sequential() = default;

  template <class First, class... Rest>
    requires(Layer<std::remove_cvref_t<First>> && (Layer<std::remove_cvref_t<Rest>> && ...) &&
             (sizeof...(Rest) > 0 || !std::is_same_v<std::remove_cvref_t<First>, Sequential>))
  explicit Sequential(First&& first, Rest&&... rest) {
    push_back(std::forward<First>(first));
    (push_back(std::forward<Rest>(rest)), ...);
  }

  Sequential(Sequential&&) noexcept = default;
  Sequential& operator=(Sequential&&) noexcept = default;

  // Appends a layer, moved in, named by its position: "0", "1", ...
  template <class L>
    requires Layer<std::remove_cvref_t<L>>
  Sequential& push_back(L&& layer) {
    using Plain = std::remove_cvref_t<L>;
    static_assert(!std::is_lvalue_reference_v<L>,
                  "Sequential owns its layers: pass a temporary (nn::Linear{784, 128}) or std::move(layer). A named "
                  "layer would be copied, and training the Sequential would leave the original unchanged");
    static_assert(std::is_same_v<typename Plain::value_type, T>, "Sequential<T>: every layer must compute in T");
    if constexpr (std::is_base_of_v<Module<T>, Plain>)
      return push_back(std::unique_ptr<Module<T>>(std::make_unique<Plain>(std::move(layer))));
    else
      return push_back(std::unique_ptr<Module<T>>(std::make_unique<detail::LayerAdapter<Plain>>(std::move(layer))));
  }
  Sequential& push_back(std::unique_ptr<Module<T>> layer) {
    ember::detail::check(layer != nullptr, "Sequential::push_back: got a null layer");
    layer->train(this->training_);
    names_.push_back(std::to_string(layers_.size()));
    layers_.push_back(std::move(layer));
    return *this;
  }

  std::size_t size() const { return layers_.size(); }
  bool empty() const { return layers_.empty(); }
  // The i-th layer, as model[i] in PyTorch; at<Linear<>>(1) checks its type.
  Module<T>& operator[](std::size_t i) { return *layers_.at(i); }
  const Module<T>& operator[](std::size_t i) const { return *layers_.at(i); }
  template <class L>
  L& at(std::size_t i) {
    ember::detail::check(i < layers_.size(), "Sequential::at: index ", i, " is out of range (", layers_.size(),
                         " layers)");
    if (auto* l = dynamic_cast<L*>(layers_[i].get())) return *l;
    if (auto* a = dynamic_cast<detail::LayerAdapter<L>*>(layers_[i].get())) return a->get();
    throw Error(ember::detail::concat("Sequential::at: layer ", i, " is ", *layers_[i], ", not the type asked for"));
  }

  // Each layer called in turn, recorded (model.forward(x) records as model(x) does). backward()
  // returns dx, or an empty tensor when the model's input needs no gradient (the default: like
  // images in PyTorch, so the backward stops at the first layer with parameters, whose dx is
  // skipped). set_needs_input_grad(true) to get dx.
  const Tensor<T>& forward(const Tensor<T>& x) override {
    ember::detail::check(!layers_.empty(), "Sequential: forward() of an empty Sequential");
    return this->record_root(x, [&]() -> const Tensor<T>& {
      const Tensor<T>* h = &x;
      for (const auto& layer : layers_) h = &(*layer)(*h);
      return *h;
    });
  }
  const Tensor<T>& forward(Tensor<T>&&) = delete;  // layers keep pointers to their inputs for backward

  void visit_children(ChildVisitor<T>& v) override {
    for (std::size_t i = 0; i < layers_.size(); ++i) v.child(names_[i], *layers_[i]);
  }
  std::string_view type_name() const override { return "Sequential"; }

 private:
  std::vector<std::unique_ptr<Module<T>>> layers_;
  std::vector<std::string> names_;  // "0", "1", ...: the names' storage for visit_state
};

template <class First, class... Rest>
Sequential(First&&, Rest&&...) -> Sequential<typename std::remove_cvref_t<First>::value_type>;

static_assert(Layer<Sequential<float>>);

}  // namespace ember::nn

// The state of a user's own model struct, and counting parameters.
//
//   struct Net {
//     nn::Conv2d<> conv1{1, 16, 3};
//     nn::BatchNorm2d<> bn{16};
//     nn::Linear<> fc{2704, 10};
//     void visit_state(nn::StateVisitor<float>& v, const nn::Name* prefix = nullptr) {
//       nn::visit_state_of(v, prefix, "conv1", conv1, "bn", bn, "fc", fc);   // all state: io, checkpoints
//     }
//     auto named_parameters() { return nn::named_parameters_of(*this); }   // "conv1.weight", ...
//     auto parameters() { return nn::parameters_of(*this); }               // for an optimizer
//   };
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ember/nn/module.hpp"
#include "ember/tensor.hpp"

namespace ember::nn {

// visit_state of the named members of a struct, in the order given (PyTorch's registration order).
template <class T>
void visit_state_of(StateVisitor<T>&, const Name*) {}
template <class T, class Layer, class... Rest>
void visit_state_of(StateVisitor<T>& v, const Name* prefix, std::string_view name, Layer& layer, Rest&&... rest) {
  const Name n(prefix, name);
  layer.visit_state(v, &n);
  visit_state_of(v, prefix, std::forward<Rest>(rest)...);
}

// visit_children of the named members of a struct, in the order its forward() runs them (what
// nn::summary shows), e.g. in a Module<float> of your own:
//   void visit_children(nn::ChildVisitor<float>& v) override {
//     nn::children_of(v, "conv1", conv1, "relu", relu, "pool", pool, "flatten", flatten, "fc", fc);
//   }
template <class T>
void children_of(ChildVisitor<T>&) {}
template <class T, class Layer, class... Rest>
void children_of(ChildVisitor<T>& v, std::string_view name, Layer& layer, Rest&&... rest) {
  v.child(name, layer);
  children_of(v, std::forward<Rest>(rest)...);
}

namespace detail {
// The scalar of anything with visit_state: its value_type, or the one its visit_state takes.
template <class Model>
struct scalar_of {
  using type = typename Model::value_type;
};
template <class Model>
  requires(!requires { typename Model::value_type; } && requires(Model& m, StateVisitor<float>& v) {
    m.visit_state(v, nullptr);
  })
struct scalar_of<Model> {
  using type = float;
};
template <class Model>
  requires(!requires { typename Model::value_type; } && !requires(Model& m, StateVisitor<float>& v) {
    m.visit_state(v, nullptr);
  })
struct scalar_of<Model> {
  using type = double;
};
template <class Model>
using scalar_t = typename scalar_of<Model>::type;

template <class T>
void append_named(NamedParameters<T>&) {}
template <class T, class Layer, class... Rest>
void append_named(NamedParameters<T>& out, const std::string& name, Layer& layer, Rest&... rest) {
  for (auto& np : layer.named_parameters(name)) out.push_back(np);
  append_named(out, rest...);
}
}  // namespace detail

// The parameters of anything with visit_state(), named: "conv1.weight", ...
template <class Model>
  requires requires(Model& m, StateVisitor<detail::scalar_t<Model>>& v) { m.visit_state(v, nullptr); }
NamedParameters<detail::scalar_t<Model>> named_parameters_of(Model& model) {
  using T = detail::scalar_t<Model>;
  NamedParameters<T> out;
  for_each_state<T>(model, [&](const Name& n, Parameter<T>& p) { out.push_back({n.str(), p}); });
  return out;
}

// named_parameters_of("conv1", conv1, "fc", fc): "conv1.weight", "conv1.bias", "fc.weight", ...
// (for a struct without visit_state; its buffers are then not saved by io).
template <class Layer, class... Rest>
auto named_parameters_of(const std::string& name, Layer& layer, Rest&... rest) {
  NamedParameters<typename Layer::value_type> out;
  detail::append_named(out, name, layer, rest...);
  return out;
}

// The parameter list of anything with named_parameters(), for an optimizer.
template <class Model>
auto parameters_of(Model& model) {
  auto named = model.named_parameters();
  std::vector<decltype(&named.front().param)> out;
  for (auto& [name, p] : named) out.push_back(&p);
  return out;
}

// The number of learnable scalars, as sum(p.numel() for p in model.parameters()).
template <class P>
index_t num_parameters(const std::vector<P*>& params) {
  index_t n = 0;
  for (const P* p : params) n += p->value.numel();
  return n;
}
template <class Model>
  requires requires(Model& m) { m.parameters(); }
index_t num_parameters(Model& model) {
  return num_parameters(model.parameters());
}

}  // namespace ember::nn

// Parameter lists of a user's own model struct, and counting parameters.
//
//   struct Net {
//     nn::Linear<> fc1{784, 128}, fc2{128, 10};
//     auto named_parameters() { return nn::named_parameters_of("fc1", fc1, "fc2", fc2); }
//     auto parameters() { return nn::parameters_of(*this); }
//   };
#pragma once

#include <string>
#include <vector>

#include "ember/nn/module.hpp"
#include "ember/tensor.hpp"

namespace ember::nn {

namespace detail {
template <class T>
void append_named(NamedParameters<T>&) {}
template <class T, class Layer, class... Rest>
void append_named(NamedParameters<T>& out, const std::string& name, Layer& layer, Rest&... rest) {
  for (auto& np : layer.named_parameters(name)) out.push_back(np);
  append_named(out, rest...);
}
}  // namespace detail

// named_parameters_of("conv1", conv1, "fc", fc): "conv1.weight", "conv1.bias", "fc.weight", ...
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

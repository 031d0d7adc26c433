// Snapshots of a model, an optimizer and a data loader, byte for byte, to check that a failed
// load changed nothing (tests/fuzz/).
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <variant>

#include <ember/data/dataloader.hpp>
#include <ember/io.hpp>
#include <ember/optim/optimizer.hpp>
#include <ember/tensor.hpp>

namespace fuzz {

template <class U>
void append(std::string& out, std::string_view tag, const ember::Tensor<U>& t) {
  out += tag;
  out += ':';
  for (int d = 0; d < t.dim(); ++d) out += std::to_string(t.size(d)) + ",";
  out.append(reinterpret_cast<const char*>(t.data()), static_cast<std::size_t>(t.numel()) * sizeof(U));
  out += ';';
}

// The model's state_dict tensors (shapes and bits) and its generators.
template <class Model>
std::string snapshot_model(Model& model) {
  std::string out;
  const auto state = ember::io::detail::state_of(model);
  for (const auto& r : state.tensors) std::visit([&](auto* t) { append(out, r.name, *t); }, r.tensor);
  for (const auto& [name, g] : state.generators) out += name + "=" + g->state() + ";";
  return out;
}

// Everything the optimizer's visit_state shows: tensors (empty ones too), options, counts, flags.
template <class T>
class OptimizerSnapshot final : public ember::optim::OptimizerStateVisitor<T> {
 public:
  std::string out;
  void tensor(std::size_t k, std::string_view name, ember::Tensor<T>& t, bool) override {
    append(out, std::to_string(k) + "." + std::string(name), t);
  }
  void scalar(std::string_view name, double& v) override { raw(name, &v, sizeof v); }
  void count(std::string_view name, std::int64_t& v) override { raw(name, &v, sizeof v); }
  void flag(std::string_view name, bool& v, bool) override { raw(name, &v, sizeof v); }

 private:
  void raw(std::string_view name, const void* p, std::size_t n) {
    out += name;
    out += '=';
    out.append(static_cast<const char*>(p), n);
    out += ';';
  }
};

template <class T>
std::string snapshot_optimizer(ember::optim::Optimizer<T>& optimizer) {
  OptimizerSnapshot<T> s;
  optimizer.visit_state(s);
  return s.out;
}

template <class T>
std::string snapshot_loader(ember::data::DataLoader<T>& loader) {
  const auto& order = loader.order();
  std::string out(reinterpret_cast<const char*>(order.data()), order.size() * sizeof(ember::index_t));
  return out + ";" + loader.generator().state();
}

}  // namespace fuzz

// io::save / io::load: a model's state_dict (parameters and buffers, PyTorch's names and dtypes)
// as a safetensors file; see <ember/io.hpp>. Written once against the state visitor
// (nn::Module::visit_state), so a new layer needs nothing here.
#pragma once

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "ember/io/safetensors.hpp"
#include "ember/nn/module.hpp"
#include "ember/nn/parameters.hpp"

namespace ember::io {

namespace detail {

// One tensor of a model's state_dict: a parameter's value or a buffer.
template <class T>
struct StateRef {
  std::string name;
  std::variant<Tensor<T>*, Tensor<std::int64_t>*> tensor;
};

// A model's saved state: its state_dict tensors in order, and its generators (checkpoints only).
template <class T>
struct ModelState {
  std::vector<StateRef<T>> tensors;
  std::vector<std::pair<std::string, Generator*>> generators;
  std::vector<std::pair<std::string, nn::Parameter<T>*>> parameters;  // to name an optimizer's
};

template <class X>
struct is_named_parameters : std::false_type {};
template <class T>
struct is_named_parameters<std::vector<nn::NamedParameter<T>>> : std::true_type {};

template <class T>
ModelState<T> state_of_list(const nn::NamedParameters<T>& params) {
  ModelState<T> s;
  for (const auto& [name, p] : params) {
    s.tensors.push_back({name, &p.value});
    s.parameters.emplace_back(name, &p);
  }
  return s;
}

// Anything with visit_state() (ember's layers and models, a struct using nn::visit_state_of), or,
// failing that, with named_parameters() (whose buffers ember then cannot see).
template <class Model>
auto state_of(Model& model) {
  if constexpr (is_named_parameters<std::remove_cv_t<Model>>::value) {
    return state_of_list(model);
  } else if constexpr (requires(nn::StateVisitor<nn::detail::scalar_t<Model>>& v) { model.visit_state(v, nullptr); }) {
    using T = nn::detail::scalar_t<Model>;
    ModelState<T> s;
    nn::for_each_state<T>(model, [&](const nn::Name& n, auto& state) {
      using S = std::remove_cvref_t<decltype(state)>;
      if constexpr (std::is_same_v<S, nn::Parameter<T>>) {
        s.tensors.push_back({n.str(), &state.value});
        s.parameters.emplace_back(n.str(), &state);
      } else if constexpr (std::is_same_v<S, Generator>) {
        s.generators.emplace_back(n.str(), &state);
      } else {
        s.tensors.push_back({n.str(), &state});
      }
    });
    return s;
  } else {
    return state_of_list(model.named_parameters());
  }
}

template <class T>
std::vector<TensorView> views_of(const ModelState<T>& s) {
  std::vector<TensorView> out;
  for (const auto& [name, ref] : s.tensors)  // (clang 14 captures a structured binding only by name = name)
    std::visit([&, &name = name](auto* t) { out.push_back(view_of(name, *t)); }, ref);
  return out;
}

template <class U>
constexpr bool is_floating_dtype() {
  return !std::is_same_v<U, std::int64_t>;
}

// Appends to `errors` what keeps `file` from loading into `state`: missing tensors, shapes that
// differ, dtypes of the wrong kind (floating point for parameters and float buffers, I64 for
// integer buffers). Returns the names it matched.
template <class T>
std::vector<std::string> check_state(const File& file, const ModelState<T>& state, std::vector<std::string>& errors) {
  std::vector<std::string> matched;
  for (const auto& [name, ref] : state.tensors) {
    matched.push_back(name);
    std::visit(
        [&, &name = name](auto* t) {
          using U = std::remove_cvref_t<decltype(*t->data())>;
          const auto dims = dims_of(*t);
          const auto it = file.entries.find(name);
          if (it == file.entries.end()) {
            errors.push_back("\"" + name + "\" is missing (the model's " + shape_text(dims) + ")");
          } else if (it->second.shape != dims) {
            errors.push_back("\"" + name + "\" has shape " + shape_text(it->second.shape) + " in the file, the model's is " +
                             shape_text(dims));
          } else if (is_floating_dtype<U>() ? it->second.dtype != "F32" && it->second.dtype != "F64"
                                            : it->second.dtype != "I64") {
            errors.push_back("\"" + name + "\" is " + it->second.dtype + ", not " +
                             (is_floating_dtype<U>() ? "a floating-point tensor" : "I64 (an integer buffer)"));
          }
        },
        ref);
  }
  return matched;
}

template <class T>
void copy_state(const File& file, const ModelState<T>& state) {
  for (const auto& [name, ref] : state.tensors) std::visit([&, &name = name](auto* t) { file.copy_to(name, t->data()); }, ref);
}

// Names in the file that nobody asked for.
inline void check_unexpected(const File& file, const std::vector<std::string>& matched, std::vector<std::string>& errors,
                             const std::string& hint = "") {
  for (const auto& [name, e] : file.entries)
    if (std::find(matched.begin(), matched.end(), name) == matched.end())
      errors.push_back("\"" + name + "\" " + shape_text(e.shape) + " is not a parameter of the model (nor a buffer)" + hint);
}

}  // namespace detail

// Writes the model's state_dict (parameters, then buffers, in PyTorch's order and names) to `path`
// in safetensors format, atomically. `model`: an ember layer or model, a struct with
// visit_state() or named_parameters(), or a NamedParameters list. `metadata`: strings for the
// header's "__metadata__" (safetensors' save_file(tensors, path, metadata)), beside
// "format": "pt", which PyTorch's loader expects.
template <class Model>
void save(Model&& model, const std::filesystem::path& path, const std::map<std::string, std::string>& metadata = {}) {
  std::map<std::string, std::string> all = metadata;
  all.emplace("format", "pt");
  detail::write(path, detail::views_of(detail::state_of(model)), all, "io::save");
}

// The "__metadata__" strings of a safetensors file (as safe_open(path).metadata()), the file
// checked as io::load checks it.
inline std::map<std::string, std::string> load_metadata(const std::filesystem::path& path) {
  return detail::read(path, "io::load_metadata").metadata;
}

// Reads `path` into the model: every tensor of its state_dict must be in the file with its shape,
// and the file must hold nothing else (PyTorch's load_state_dict with strict=True). On any problem
// nothing is changed.
template <class Model>
void load(Model&& model, const std::filesystem::path& path) {
  const auto state = detail::state_of(model);
  const auto file = detail::read(path, "io::load");
  std::vector<std::string> errors;
  const auto matched = detail::check_state(file, state, errors);
  detail::check_unexpected(file, matched, errors,
                           file.metadata.count("ember.checkpoint") ? " (the file is a checkpoint: io::load_checkpoint)" : "");
  if (!errors.empty()) throw Error(detail::join_errors("io::load", path, errors));
  detail::copy_state(file, state);  // all checked: now change the model
}

}  // namespace ember::io

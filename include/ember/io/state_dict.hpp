// io::save / io::load: a model's parameters as a safetensors file under their PyTorch
// state_dict names; see <ember/io.hpp>.
#pragma once

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "ember/io/safetensors.hpp"
#include "ember/nn/module.hpp"

namespace ember::io {

namespace detail {

// Appends to `errors` what keeps `file` from loading into `params`: missing parameters, shapes
// that differ, dtypes that are not floating point. Returns the names it matched.
template <class T>
std::vector<std::string> check_parameters(const File& file, const nn::NamedParameters<T>& params,
                                          std::vector<std::string>& errors) {
  std::vector<std::string> matched;
  for (const auto& [name, p] : params) {
    matched.push_back(name);
    const auto it = file.entries.find(name);
    if (it == file.entries.end())
      errors.push_back("\"" + name + "\" is missing (the model's " + shape_text(dims_of(p.value)) + ")");
    else if (it->second.shape != dims_of(p.value))
      errors.push_back("\"" + name + "\" has shape " + shape_text(it->second.shape) + " in the file, the model's is " +
                       shape_text(dims_of(p.value)));
    else if (it->second.dtype != "F32" && it->second.dtype != "F64")
      errors.push_back("\"" + name + "\" is " + it->second.dtype + ", not a floating-point tensor");
  }
  return matched;
}

// Names in the file that nobody asked for.
inline void check_unexpected(const File& file, const std::vector<std::string>& matched, std::vector<std::string>& errors,
                             const std::string& hint = "") {
  for (const auto& [name, e] : file.entries)
    if (std::find(matched.begin(), matched.end(), name) == matched.end())
      errors.push_back("\"" + name + "\" " + shape_text(e.shape) + " is not a parameter of the model" + hint);
}

}  // namespace detail

// Writes the parameters to `path` in safetensors format, under their names.
template <class T>
void save(const nn::NamedParameters<T>& params, const std::filesystem::path& path) {
  std::vector<detail::TensorView> tensors;
  for (const auto& [name, p] : params) tensors.push_back(detail::view_of(name, p.value));
  detail::write(path, tensors, {{"format", "pt"}}, "io::save");
}

// The model's named_parameters() (an ember layer, Sequential, or a struct of your own with one).
template <class Model>
  requires requires(Model& m) { m.named_parameters(); }
void save(Model& model, const std::filesystem::path& path) {
  save(model.named_parameters(), path);
}

// Reads `path` into the parameters: every parameter must be in the file with its shape, and the
// file must hold nothing else (PyTorch's load_state_dict with strict=True).
template <class T>
void load(const nn::NamedParameters<T>& params, const std::filesystem::path& path) {
  const auto file = detail::read(path, "io::load");
  std::vector<std::string> errors;
  const auto matched = detail::check_parameters(file, params, errors);
  detail::check_unexpected(file, matched, errors,
                           file.metadata.count("ember.checkpoint") ? " (the file is a checkpoint: io::load_checkpoint)" : "");
  if (!errors.empty()) throw Error(detail::join_errors("io::load", path, errors));
  for (const auto& [name, p] : params) file.copy_to(name, p.value.data());  // all checked: now change the model
}

template <class Model>
  requires requires(Model& m) { m.named_parameters(); }
void load(Model& model, const std::filesystem::path& path) {
  load(model.named_parameters(), path);
}

}  // namespace ember::io

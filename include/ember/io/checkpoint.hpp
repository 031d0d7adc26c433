// io::save_checkpoint / io::load_checkpoint: everything needed to resume training where it
// stopped, in one safetensors file (see <ember/io.hpp>):
//   - the model's parameters under their state_dict names (PyTorch can load them with
//     load_state_dict(..., strict=False), which skips the rest);
//   - the optimizer's state under "optimizer.<parameter>.<state>" (Adam: exp_avg, exp_avg_sq,
//     max_exp_avg_sq with amsgrad; SGD: momentum_buffer once it exists), and in the metadata its
//     kind, step count and options (restored on load, as torch's optimizer.load_state_dict
//     restores param_groups);
//   - the data loader's sample order ("loader.order") and its generator's state;
//   - the training step, returned by load_checkpoint.
//
//   io::save_checkpoint(model, optimizer, loader, step, "run.ckpt.safetensors");
//   step = io::load_checkpoint(model, optimizer, loader, "run.ckpt.safetensors");
//
// Saved between epochs, a run resumed from the checkpoint continues bit for bit as if it had not
// stopped (same thread count). Saved in the middle of an epoch, the rest of that epoch is not
// replayed: the loader's next begin() starts the next epoch.
#pragma once

#include <charconv>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "ember/data/dataloader.hpp"
#include "ember/io/safetensors.hpp"
#include "ember/io/state_dict.hpp"
#include "ember/nn/module.hpp"
#include "ember/optim/adam.hpp"
#include "ember/optim/sgd.hpp"

namespace ember::io {

static_assert(std::is_same_v<index_t, std::int64_t>, "the loader's order is stored as I64");

namespace detail {

inline std::string number_text(double v) {
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);  // shortest text that reads back exactly
  return std::string(buf, r.ptr);
}
inline std::string number_text(std::int64_t v) { return std::to_string(v); }

// Metadata values of a checkpoint, read back with a note of what was missing or malformed.
class Metadata {
 public:
  Metadata(const std::map<std::string, std::string>& m, std::vector<std::string>& errors) : m_(m), errors_(errors) {}

  const std::string* text(const std::string& key) {
    const auto it = m_.find(key);
    if (it == m_.end()) {
      errors_.push_back("metadata \"" + key + "\" is missing");
      return nullptr;
    }
    return &it->second;
  }
  template <class N>
  N number(const std::string& key) {
    const std::string* s = text(key);
    N v{};
    if (!s) return v;
    const auto r = std::from_chars(s->data(), s->data() + s->size(), v);
    if (r.ec != std::errc() || r.ptr != s->data() + s->size())
      errors_.push_back("metadata \"" + key + "\" = \"" + *s + "\" is not a number");
    return v;
  }
  std::optional<bool> boolean(const std::string& key) {
    const std::string* s = text(key);
    if (!s) return std::nullopt;
    if (*s == "true" || *s == "false") return *s == "true";
    errors_.push_back("metadata \"" + key + "\" = \"" + *s + "\" is not true/false");
    return std::nullopt;
  }

 private:
  const std::map<std::string, std::string>& m_;
  std::vector<std::string>& errors_;
};

// The model's name of each of the optimizer's parameters.
template <class T>
std::vector<std::string> optimizer_names(const std::vector<nn::Parameter<T>*>& params,
                                         const nn::NamedParameters<T>& named, const char* who) {
  std::vector<std::string> names;
  for (std::size_t k = 0; k < params.size(); ++k) {
    std::string found;
    for (const auto& [name, p] : named)
      if (&p == params[k]) found = name;
    ember::detail::check(!found.empty(), who, ": the optimizer's parameter ", k,
                         " is not one of the model's named_parameters()");
    names.push_back(found);
  }
  return names;
}

// What each optimizer keeps. `State` lists its per-parameter tensors by name; options go to and
// come from the metadata.
template <class T>
struct OptimizerState;

template <class T>
struct OptimizerState<optim::Adam<T>> {
  static constexpr const char* kind = "Adam";
  static std::vector<std::pair<std::string, std::vector<Tensor<T>>*>> tensors(optim::Adam<T>& o) {
    std::vector<std::pair<std::string, std::vector<Tensor<T>>*>> out = {{"exp_avg", &o.exp_avg()},
                                                                       {"exp_avg_sq", &o.exp_avg_sq()}};
    if (o.options().amsgrad) out.emplace_back("max_exp_avg_sq", &o.max_exp_avg_sq());
    return out;
  }
  static void save(const optim::Adam<T>& o, std::map<std::string, std::string>& m) {
    const auto& opt = o.options();
    m["ember.optimizer.step"] = number_text(o.step_count());
    m["ember.optimizer.lr"] = number_text(opt.lr);
    m["ember.optimizer.beta1"] = number_text(opt.betas.first);
    m["ember.optimizer.beta2"] = number_text(opt.betas.second);
    m["ember.optimizer.eps"] = number_text(opt.eps);
    m["ember.optimizer.weight_decay"] = number_text(opt.weight_decay);
    m["ember.optimizer.amsgrad"] = opt.amsgrad ? "true" : "false";
  }
  // Checks the metadata against the optimizer and returns what load() will set.
  struct Loaded {
    std::int64_t step = 0;
    optim::AdamOptions options;
    bool compatible = true;  // false: the state tensors cannot be matched
  };
  static constexpr bool optional_state = false;  // every parameter has its Adam state
  static Loaded check(const optim::Adam<T>& o, Metadata& m, std::vector<std::string>& errors) {
    Loaded l{m.number<std::int64_t>("ember.optimizer.step"), o.options(), true};
    l.options.lr = m.number<double>("ember.optimizer.lr");
    l.options.betas = {m.number<double>("ember.optimizer.beta1"), m.number<double>("ember.optimizer.beta2")};
    l.options.eps = m.number<double>("ember.optimizer.eps");
    l.options.weight_decay = m.number<double>("ember.optimizer.weight_decay");
    const auto& opt = l.options;
    if (!(opt.lr >= 0 && opt.eps >= 0 && opt.weight_decay >= 0 && opt.betas.first >= 0 && opt.betas.first < 1 &&
          opt.betas.second >= 0 && opt.betas.second < 1))
      errors.push_back("the checkpoint's Adam options are out of range (lr, eps, weight_decay >= 0; betas in [0, 1))");
    if (l.step < 0) errors.push_back("metadata \"ember.optimizer.step\" = " + std::to_string(l.step) + " is negative");
    // amsgrad decides which state exists, so it must match rather than be restored.
    const auto amsgrad = m.boolean("ember.optimizer.amsgrad");
    l.compatible = amsgrad.has_value() && *amsgrad == o.options().amsgrad;
    if (amsgrad && !l.compatible)
      errors.push_back(std::string("the checkpoint's Adam has amsgrad ") + (o.options().amsgrad ? "off" : "on") +
                       ", this one has it " + (o.options().amsgrad ? "on" : "off"));
    return l;
  }
  static void load(optim::Adam<T>& o, const Loaded& l) {
    o.options() = l.options;
    o.set_step_count(l.step);
  }
};

template <class T>
struct OptimizerState<optim::SGD<T>> {
  static constexpr const char* kind = "SGD";
  static std::vector<std::pair<std::string, std::vector<Tensor<T>>*>> tensors(optim::SGD<T>& o) {
    return {{"momentum_buffer", &o.momentum_buffers()}};  // empty before the first step with momentum
  }
  static void save(const optim::SGD<T>& o, std::map<std::string, std::string>& m) {
    const auto& opt = o.options();
    m["ember.optimizer.lr"] = number_text(opt.lr);
    m["ember.optimizer.momentum"] = number_text(opt.momentum);
    m["ember.optimizer.dampening"] = number_text(opt.dampening);
    m["ember.optimizer.weight_decay"] = number_text(opt.weight_decay);
    m["ember.optimizer.nesterov"] = opt.nesterov ? "true" : "false";
  }
  struct Loaded {
    optim::SGDOptions options;
    bool compatible = true;
  };
  static constexpr bool optional_state = true;  // no momentum_buffer before the first step
  static Loaded check(const optim::SGD<T>& o, Metadata& m, std::vector<std::string>& errors) {
    Loaded l{o.options(), true};
    auto& opt = l.options;
    opt.lr = m.number<double>("ember.optimizer.lr");
    opt.momentum = m.number<double>("ember.optimizer.momentum");
    opt.dampening = m.number<double>("ember.optimizer.dampening");
    opt.weight_decay = m.number<double>("ember.optimizer.weight_decay");
    opt.nesterov = m.boolean("ember.optimizer.nesterov").value_or(false);
    if (!(opt.lr >= 0 && opt.momentum >= 0 && opt.weight_decay >= 0) ||
        (opt.nesterov && !(opt.momentum > 0 && opt.dampening == 0)))
      errors.push_back("the checkpoint's SGD options are out of range (lr, momentum, weight_decay >= 0; nesterov "
                       "needs momentum > 0 and no dampening)");
    return l;
  }
  static void load(optim::SGD<T>& o, const Loaded& l) { o.options() = l.options; }
};

}  // namespace detail

// Writes the model, the optimizer (optim::Adam or optim::SGD), the loader's state and `step` to
// `path`, atomically.
template <class Model, class Optimizer, class L>
void save_checkpoint(Model& model, Optimizer& optimizer, data::DataLoader<L>& loader, std::int64_t step,
                     const std::filesystem::path& path) {
  using State = detail::OptimizerState<Optimizer>;
  constexpr const char* who = "io::save_checkpoint";
  const auto named = model.named_parameters();
  const auto names = detail::optimizer_names(optimizer.params(), named, who);

  std::vector<detail::TensorView> tensors;
  for (const auto& [name, p] : named) tensors.push_back(detail::view_of(name, p.value));
  for (const auto& [state, values] : State::tensors(optimizer))
    for (std::size_t k = 0; k < values->size(); ++k)
      if (!State::optional_state || !(*values)[k].empty())  // an empty momentum_buffer does not exist yet
        tensors.push_back(detail::view_of("optimizer." + names[k] + "." + state, (*values)[k]));
  const auto& order = loader.order();  // index_t is std::int64_t: written as it is
  tensors.push_back({"loader.order", "I64", {static_cast<std::int64_t>(order.size())}, order.data(),
                     order.size() * sizeof(index_t)});

  std::map<std::string, std::string> metadata = {{"format", "pt"},
                                                 {"ember.checkpoint", "1"},
                                                 {"ember.step", detail::number_text(step)},
                                                 {"ember.optimizer", State::kind},
                                                 {"ember.loader.generator", loader.generator().state()}};
  State::save(optimizer, metadata);
  detail::write(path, tensors, metadata, who);
}

// Reads a checkpoint written by save_checkpoint into the model, the optimizer and the loader,
// and returns its step. Every name, shape and value is checked first (the optimizer's kind and
// amsgrad must match; the loader's order must be a permutation of its dataset's samples); on any
// problem nothing is changed and one ember::Error lists them all.
template <class Model, class Optimizer, class L>
std::int64_t load_checkpoint(Model& model, Optimizer& optimizer, data::DataLoader<L>& loader,
                             const std::filesystem::path& path) {
  using State = detail::OptimizerState<Optimizer>;
  constexpr const char* who = "io::load_checkpoint";
  const auto file = detail::read(path, who);
  if (!file.metadata.count("ember.checkpoint"))
    throw Error(ember::detail::concat(who, ": ", path, " is not a checkpoint (no \"ember.checkpoint\" in its ",
                                      "metadata); weights alone load with io::load"));
  const auto named = model.named_parameters();
  const auto names = detail::optimizer_names(optimizer.params(), named, who);
  std::vector<std::string> errors;
  detail::Metadata meta(file.metadata, errors);

  auto matched = detail::check_parameters(file, named, errors);
  // The optimizer: its kind, then each state tensor with its parameter's shape, staged in new
  // tensors so that nothing is allocated once the model has been changed.
  using Tensors = std::vector<std::remove_cvref_t<decltype(optimizer.params()[0]->value)>>;
  const std::string* kind = meta.text("ember.optimizer");
  typename State::Loaded loaded{};
  bool optimizer_ok = kind && *kind == State::kind;
  if (kind && !optimizer_ok) errors.push_back("the checkpoint's optimizer is " + *kind + ", not " + State::kind);
  if (optimizer_ok) {
    loaded = State::check(optimizer, meta, errors);
    optimizer_ok = loaded.compatible;
  }
  std::vector<Tensors> staged;  // per state, per parameter; empty: no such state yet
  if (optimizer_ok) {
    for (const auto& [state, values] : State::tensors(optimizer)) {
      staged.emplace_back(names.size());
      for (std::size_t k = 0; k < names.size(); ++k) {
        const std::string key = "optimizer." + names[k] + "." + state;
        const auto it = file.entries.find(key);
        if (it == file.entries.end()) {
          if (!State::optional_state) errors.push_back("\"" + key + "\" is missing");
          continue;
        }
        matched.push_back(key);
        const auto& value = optimizer.params()[k]->value;
        if (it->second.shape != detail::dims_of(value) || (it->second.dtype != "F32" && it->second.dtype != "F64")) {
          errors.push_back("\"" + key + "\" is " + it->second.dtype + " " + detail::shape_text(it->second.shape) +
                           ", expected floating point " + detail::shape_text(detail::dims_of(value)));
          continue;
        }
        staged.back()[k].resize_uninitialized(value.shape());
        file.copy_to(key, staged.back()[k].data());
      }
    }
  } else {  // the optimizer's kind or amsgrad is reported: its tensors need no message each
    for (const auto& [name, e] : file.entries)
      if (name.starts_with("optimizer.")) matched.push_back(name);
  }
  // The loader: a permutation of its samples and a generator state.
  std::vector<index_t> order;
  if (const auto it = file.entries.find("loader.order"); it == file.entries.end()) {
    errors.push_back("\"loader.order\" is missing");
  } else {
    matched.push_back("loader.order");
    const auto n = static_cast<std::int64_t>(loader.order().size());
    if (it->second.dtype != "I64" || it->second.shape != std::vector<std::int64_t>{n}) {
      errors.push_back("\"loader.order\" is " + it->second.dtype + " " + detail::shape_text(it->second.shape) +
                       ", expected I64 (" + std::to_string(n) + ",): the loader's dataset has " + std::to_string(n) +
                       " samples");
    } else {
      order.resize(static_cast<std::size_t>(n));
      file.copy_to("loader.order", order.data());
      if (const auto problem = data::order_problem(order, order.size()); !problem.empty())
        errors.push_back("\"loader.order\" is not a permutation: " + problem);
    }
  }
  Generator generator;
  if (const std::string* g = meta.text("ember.loader.generator")) {
    try {
      generator.set_state(*g);
    } catch (const Error& e) {
      errors.push_back(std::string("metadata \"ember.loader.generator\": ") + e.what());
    }
  }
  const auto step = meta.number<std::int64_t>("ember.step");
  detail::check_unexpected(file, matched, errors);
  if (!errors.empty()) throw Error(detail::join_errors(who, path, errors));

  // Everything checked: now change the loader (set_order checks again, before it changes
  // anything), the model (copies into its tensors) and the optimizer (swaps in the staged state).
  loader.set_order(order);
  loader.generator() = generator;
  for (const auto& [name, p] : named) file.copy_to(name, p.value.data());
  State::load(optimizer, loaded);
  std::size_t s = 0;
  for (const auto& [state, values] : State::tensors(optimizer)) values->swap(staged[s++]);
  return step;
}

}  // namespace ember::io

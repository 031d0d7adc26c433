// io::save_checkpoint / io::load_checkpoint: everything needed to resume training where it
// stopped, in one safetensors file (see <ember/io.hpp>):
//   - the model's state_dict (parameters and buffers) under its names (PyTorch can load them with
//     load_state_dict(..., strict=False), which skips the rest);
//   - the optimizer's state through its visit_state: tensors under
//     "optimizer.<parameter>.<state>" (Adam: exp_avg, exp_avg_sq, max_exp_avg_sq with amsgrad;
//     SGD: momentum_buffer once it exists), and in the metadata its kind and
//     "ember.optimizer.<option>" (restored on load, as torch's optimizer.load_state_dict restores
//     param_groups);
//   - the model's generators (Dropout's) as "ember.generator.<name>" in the metadata;
//   - the data loader's sample order ("loader.order"), its generator's state and the epoch in
//     progress (DataLoader::epoch_state: the next batch, the batch size, the augmentation seed);
//   - the training step, returned by load_checkpoint;
//   - optionally an LR schedule's state through its visit_state, in the metadata: its kind under
//     "ember.schedule" and "ember.schedule.<name>" (restored on load, as torch's
//     scheduler.load_state_dict restores its __dict__).
//
//   io::save_checkpoint(model, optimizer, loader, step, "run.ckpt.safetensors");
//   step = io::load_checkpoint(model, optimizer, loader, "run.ckpt.safetensors");
//   io::save_checkpoint(model, optimizer, schedule, loader, step, path);   // with a schedule
//   step = io::load_checkpoint(model, optimizer, schedule, loader, path);
//
// A run resumed from the checkpoint continues bit for bit as if it had not stopped (same thread
// count), whether saved between epochs or in the middle of one (inside the loop over the loader,
// after a batch's step): the resumed run's next loop over the loader finishes the interrupted
// epoch from the batch after the last one loaded, with the epoch's order and augmentation. A
// mid-epoch checkpoint is refused by a loader with another batch size, or whose dataset has
// transforms when the saved epoch had none (or the other way). Checkpoints of formats 1 and 2
// (no epoch state) resume at the next epoch.
#pragma once

#include <charconv>
#include <cstdint>
#include <filesystem>
#include <map>
#include <string_view>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "ember/data/dataloader.hpp"
#include "ember/io/safetensors.hpp"
#include "ember/io/state_dict.hpp"
#include "ember/nn/module.hpp"
#include "ember/optim/lr_scheduler.hpp"
#include "ember/optim/optimizer.hpp"

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
std::vector<std::string> optimizer_names(const std::vector<nn::Parameter<T>*>& params, const ModelState<T>& model,
                                         const char* who) {
  std::vector<std::string> names;
  for (std::size_t k = 0; k < params.size(); ++k) {
    std::string found;
    for (const auto& [name, p] : model.parameters)
      if (p == params[k]) found = name;
    ember::detail::check(!found.empty(), who, ": the optimizer's parameter ", k,
                         " is not one of the model's named_parameters()");
    names.push_back(found);
  }
  return names;
}

// Writes an optimizer's state: tensors under "optimizer.<parameter>.<state>", the rest in the
// metadata under "ember.optimizer.<name>".
template <class T>
class OptimizerSaver final : public optim::OptimizerStateVisitor<T> {
 public:
  OptimizerSaver(const std::vector<std::string>& names, std::vector<TensorView>& tensors,
                 std::map<std::string, std::string>& metadata)
      : names_(names), tensors_(tensors), metadata_(metadata) {}
  void tensor(std::size_t k, std::string_view name, Tensor<T>& t, bool lazy) override {
    if (lazy && t.empty()) return;  // not created yet
    tensors_.push_back(view_of("optimizer." + names_[k] + "." + std::string(name), t));
  }
  void scalar(std::string_view name, double& v) override { metadata_[key(name)] = number_text(v); }
  void count(std::string_view name, std::int64_t& v) override { metadata_[key(name)] = number_text(v); }
  void flag(std::string_view name, bool& v, bool) override { metadata_[key(name)] = v ? "true" : "false"; }
  static std::string key(std::string_view name) { return "ember.optimizer." + std::string(name); }

 private:
  const std::vector<std::string>& names_;
  std::vector<TensorView>& tensors_;
  std::map<std::string, std::string>& metadata_;
};

// Reads an optimizer's state from a checkpoint without changing the optimizer: the options and
// counts into `Staged`, in visit order, and each state tensor into a new tensor. Structural flags
// must match. Problems go to `errors`.
template <class T>
class OptimizerReader final : public optim::OptimizerStateVisitor<T> {
 public:
  struct Staged {
    std::vector<double> scalars;
    std::vector<std::int64_t> counts;
    std::vector<char> flags;
    std::vector<Tensor<T>> tensors;  // empty: absent (a lazy state not created yet)
  };
  OptimizerReader(const File& file, const std::vector<nn::Parameter<T>*>& params, const std::vector<std::string>& names,
                  Metadata& meta, std::vector<std::string>& matched, std::vector<std::string>& errors, Staged& staged)
      : file_(file), params_(params), names_(names), meta_(meta), matched_(matched), errors_(errors), staged_(staged) {}

  void tensor(std::size_t k, std::string_view state, Tensor<T>&, bool lazy) override {
    Tensor<T>& out = staged_.tensors.emplace_back();
    const std::string key = "optimizer." + names_[k] + "." + std::string(state);
    const auto it = file_.entries.find(key);
    if (incompatible_) {  // a structural flag differs (reported once): its tensors cannot match
      if (it != file_.entries.end()) matched_.push_back(key);
      return;
    }
    if (it == file_.entries.end()) {
      if (!lazy) errors_.push_back("\"" + key + "\" is missing");
      return;
    }
    matched_.push_back(key);
    const auto& value = params_[k]->value;
    if (it->second.shape != dims_of(value) || (it->second.dtype != "F32" && it->second.dtype != "F64")) {
      errors_.push_back("\"" + key + "\" is " + it->second.dtype + " " + shape_text(it->second.shape) +
                        ", expected floating point " + shape_text(dims_of(value)));
      return;
    }
    out.resize_uninitialized(value.shape());
    file_.copy_to(key, out.data());
  }
  bool incompatible() const { return incompatible_; }
  void scalar(std::string_view name, double&) override {
    staged_.scalars.push_back(meta_.number<double>(OptimizerSaver<T>::key(name)));
  }
  void count(std::string_view name, std::int64_t&) override {
    staged_.counts.push_back(meta_.number<std::int64_t>(OptimizerSaver<T>::key(name)));
  }
  void flag(std::string_view name, bool& v, bool structural) override {
    const std::string key = OptimizerSaver<T>::key(name);
    const auto b = meta_.boolean(key);
    staged_.flags.push_back(b.value_or(v));
    if (structural && b && *b != v) {
      incompatible_ = true;
      errors_.push_back("the checkpoint's optimizer has " + std::string(name) + " " + (*b ? "on" : "off") +
                        ", this one has it " + (v ? "on" : "off"));
    }
  }

 private:
  const File& file_;
  const std::vector<nn::Parameter<T>*>& params_;
  const std::vector<std::string>& names_;
  Metadata& meta_;
  std::vector<std::string>& matched_;
  std::vector<std::string>& errors_;
  Staged& staged_;
  bool incompatible_ = false;
};

// Swaps the staged options (or the staged tensors) with the optimizer's, in visit order: once to
// apply them, once more to undo. Structural flags are left as they are (they matched).
template <class T>
class OptimizerSwap final : public optim::OptimizerStateVisitor<T> {
 public:
  enum class What { options, tensors };
  OptimizerSwap(typename OptimizerReader<T>::Staged& staged, What what) : staged_(staged), what_(what) {}
  void tensor(std::size_t, std::string_view, Tensor<T>& t, bool) override {
    if (what_ == What::tensors) t.swap(staged_.tensors[tensor_++]);
  }
  void scalar(std::string_view, double& v) override {
    if (what_ == What::options) std::swap(v, staged_.scalars[scalar_++]);
  }
  void count(std::string_view, std::int64_t& v) override {
    if (what_ == What::options) std::swap(v, staged_.counts[count_++]);
  }
  void flag(std::string_view, bool& v, bool structural) override {
    if (what_ != What::options) return;
    char& s = staged_.flags[flag_++];
    if (structural) return;
    const bool old = v;
    v = s != 0;
    s = old;
  }

 private:
  typename OptimizerReader<T>::Staged& staged_;
  What what_;
  std::size_t tensor_ = 0, scalar_ = 0, count_ = 0, flag_ = 0;
};

// An LR schedule's state: written into the metadata under "ember.schedule.<name>", read back
// into `Staged` (in visit order), and swapped with the schedule's (once to apply, once to undo).
class ScheduleState final : public optim::ScheduleStateVisitor {
 public:
  struct Staged {
    std::vector<double> scalars;
    std::vector<std::int64_t> counts;
    std::vector<char> flags;
  };
  enum class What { save, read, swap };
  ScheduleState(What what, std::map<std::string, std::string>* out, Metadata* in, Staged& staged)
      : what_(what), out_(out), in_(in), staged_(staged) {}
  void scalar(std::string_view name, double& v) override {
    if (what_ == What::save) (*out_)[key(name)] = number_text(v);
    else if (what_ == What::read) staged_.scalars.push_back(in_->number<double>(key(name)));
    else std::swap(v, staged_.scalars[scalar_++]);
  }
  void count(std::string_view name, std::int64_t& v) override {
    if (what_ == What::save) (*out_)[key(name)] = number_text(v);
    else if (what_ == What::read) staged_.counts.push_back(in_->number<std::int64_t>(key(name)));
    else std::swap(v, staged_.counts[count_++]);
  }
  void flag(std::string_view name, bool& v) override {
    if (what_ == What::save) {
      (*out_)[key(name)] = v ? "true" : "false";
    } else if (what_ == What::read) {
      staged_.flags.push_back(in_->boolean(key(name)).value_or(v));
    } else {
      char& s = staged_.flags[flag_++];
      const bool old = v;
      v = s != 0;
      s = old;
    }
  }
  static std::string key(std::string_view name) { return "ember.schedule." + std::string(name); }

 private:
  What what_;
  std::map<std::string, std::string>* out_;
  Metadata* in_;
  Staged& staged_;
  std::size_t scalar_ = 0, count_ = 0, flag_ = 0;
};

// Checkpoint formats this version reads: 1 (parameters only), 2 (adds buffers and generators) and
// 3 (adds the loader's epoch in progress).
inline constexpr int checkpoint_version = 3;

}  // namespace detail

// Writes the model (its state_dict), the optimizer's state and options, the loader's order and
// generator, the model's generators (Dropout) and `step` to `path`, atomically.
// With `schedule` (of this optimizer), its state too.
template <class Model, class T, class L>
void save_checkpoint(Model& model, optim::Optimizer<T>& optimizer, data::DataLoader<L>& loader, std::int64_t step,
                     const std::filesystem::path& path, optim::LRScheduler<T>* schedule = nullptr) {
  constexpr const char* who = "io::save_checkpoint";
  const auto state = detail::state_of(model);
  const auto names = detail::optimizer_names(optimizer.params(), state, who);
  ember::detail::check(!schedule || &schedule->optimizer() == &optimizer, who, ": the ", schedule ? schedule->kind() : "",
                       " schedule is not the optimizer's (it was made for another optimizer)");

  std::vector<detail::TensorView> tensors = detail::views_of(state);
  std::map<std::string, std::string> metadata = {{"format", "pt"},
                                                 {"ember.checkpoint", std::to_string(detail::checkpoint_version)},
                                                 {"ember.step", detail::number_text(step)},
                                                 {"ember.optimizer", optimizer.kind()},
                                                 {"ember.loader.generator", loader.generator().state()}};
  detail::OptimizerSaver<T> saver(names, tensors, metadata);
  optimizer.visit_state(saver);
  if (schedule) {
    metadata["ember.schedule"] = schedule->kind();
    detail::ScheduleState::Staged unused;
    detail::ScheduleState schedule_saver(detail::ScheduleState::What::save, &metadata, nullptr, unused);
    schedule->visit_state(schedule_saver);
  }
  for (const auto& [name, g] : state.generators) metadata["ember.generator." + name] = g->state();
  const auto epoch = loader.epoch_state();
  metadata["ember.loader.next_batch"] = detail::number_text(epoch.next_batch);
  metadata["ember.loader.batch_size"] = detail::number_text(epoch.batch_size);
  if (epoch.augmentation_seed) metadata["ember.loader.augmentation_seed"] = std::to_string(*epoch.augmentation_seed);
  const auto& order = loader.order();  // index_t is std::int64_t: written as it is
  tensors.push_back({"loader.order", "I64", {static_cast<std::int64_t>(order.size())}, order.data(),
                     order.size() * sizeof(index_t)});
  detail::write(path, tensors, metadata, who);
}

// Reads a checkpoint written by save_checkpoint into the model, the optimizer and the loader,
// and returns its step. Every name, shape and value is checked first (the optimizer's kind and
// structural flags must match, its options must be valid, the loader's order must be a
// permutation of its dataset's samples); on any problem nothing is changed and one ember::Error
// lists them all.
// With `schedule` (of this optimizer), its state too: the checkpoint must hold one of its kind.
template <class Model, class T, class L>
std::int64_t load_checkpoint(Model& model, optim::Optimizer<T>& optimizer, data::DataLoader<L>& loader,
                             const std::filesystem::path& path, optim::LRScheduler<T>* schedule = nullptr) {
  constexpr const char* who = "io::load_checkpoint";
  const auto file = detail::read(path, who);
  const auto version = file.metadata.find("ember.checkpoint");
  if (version == file.metadata.end())
    throw Error(ember::detail::concat(who, ": ", path, " is not a checkpoint (no \"ember.checkpoint\" in its ",
                                      "metadata); weights alone load with io::load"));
  if (version->second != "1" && version->second != "2" && version->second != "3")
    throw Error(ember::detail::concat(who, ": ", path, " is a checkpoint of format \"", version->second.substr(0, 20),
                                      "\"; this version of ember reads formats 1, 2 and 3"));
  const auto state = detail::state_of(model);
  const auto names = detail::optimizer_names(optimizer.params(), state, who);
  ember::detail::check(!schedule || &schedule->optimizer() == &optimizer, who, ": the ", schedule ? schedule->kind() : "",
                       " schedule is not the optimizer's (it was made for another optimizer)");
  std::vector<std::string> errors;
  detail::Metadata meta(file.metadata, errors);

  auto matched = detail::check_state(file, state, errors);
  // The optimizer: its kind, then its state read into staged copies.
  typename detail::OptimizerReader<T>::Staged staged;
  const std::string* kind = meta.text("ember.optimizer");
  bool optimizer_ok = kind && *kind == optimizer.kind();
  if (kind && !optimizer_ok) errors.push_back("the checkpoint's optimizer is " + *kind + ", not " + optimizer.kind());
  if (optimizer_ok) {
    detail::OptimizerReader<T> reader(file, optimizer.params(), names, meta, matched, errors, staged);
    optimizer.visit_state(reader);
    optimizer_ok = !reader.incompatible();
  }
  if (!optimizer_ok) {  // the optimizer's kind or structure is reported: its tensors need no message each
    for (const auto& [name, e] : file.entries)
      if (name.starts_with("optimizer.")) matched.push_back(name);
  }
  // The model's generators.
  std::vector<Generator> generators(state.generators.size());
  for (std::size_t i = 0; i < state.generators.size(); ++i) {
    const std::string key = "ember.generator." + state.generators[i].first;
    if (const std::string* g = meta.text(key)) {
      try {
        generators[i].set_state(*g);
      } catch (const Error& e) {
        errors.push_back("metadata \"" + key + "\": " + e.what());
      }
    }
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
  Generator loader_generator;
  if (const std::string* g = meta.text("ember.loader.generator")) {
    try {
      loader_generator.set_state(*g);
    } catch (const Error& e) {
      errors.push_back(std::string("metadata \"ember.loader.generator\": ") + e.what());
    }
  }
  // The loader's epoch in progress (format 3; before it, the next begin() starts a new epoch).
  typename data::DataLoader<L>::EpochState epoch;
  if (version->second == "3") {
    epoch.next_batch = meta.number<std::int64_t>("ember.loader.next_batch");
    epoch.batch_size = meta.number<std::int64_t>("ember.loader.batch_size");
    if (file.metadata.count("ember.loader.augmentation_seed"))
      epoch.augmentation_seed = meta.number<std::uint64_t>("ember.loader.augmentation_seed");
    if (const auto problem = loader.epoch_state_problem(epoch); !problem.empty())
      errors.push_back("the loader cannot go on with the checkpoint's epoch: " + problem);
  }
  // The schedule's state, staged.
  detail::ScheduleState::Staged schedule_staged;
  if (schedule) {
    const auto it = file.metadata.find("ember.schedule");
    if (it == file.metadata.end()) {
      errors.push_back(std::string("the checkpoint has no schedule, this run has a ") + schedule->kind());
    } else if (it->second != schedule->kind()) {
      errors.push_back("the checkpoint's schedule is " + it->second.substr(0, 40) + ", not " + schedule->kind());
    } else {
      detail::ScheduleState reader(detail::ScheduleState::What::read, nullptr, &meta, schedule_staged);
      schedule->visit_state(reader);
    }
  }
  const auto step = meta.number<std::int64_t>("ember.step");
  if (step < 0 || step >= optim::max_step_count)
    errors.push_back("metadata \"ember.step\" = " + std::to_string(step) + " is not a step count (must be in [0, 2^53))");
  detail::check_unexpected(file, matched, errors);
  // The staged options, tried on the optimizer and taken back unless valid.
  if (optimizer_ok && errors.empty()) {
    using Swap = detail::OptimizerSwap<T>;
    Swap apply(staged, Swap::What::options);
    optimizer.visit_state(apply);
    if (const std::string problem = optimizer.loaded_options_problem(); !problem.empty()) {
      errors.push_back("the checkpoint's " + std::string(optimizer.kind()) + " state is invalid: " + problem);
      Swap undo(staged, Swap::What::options);
      optimizer.visit_state(undo);
    }
  }
  // The staged schedule state likewise (taking the optimizer's options back too when invalid).
  if (schedule && errors.empty()) {
    detail::ScheduleState swap(detail::ScheduleState::What::swap, nullptr, nullptr, schedule_staged);
    schedule->visit_state(swap);
    if (const std::string problem = schedule->options_problem(); !problem.empty()) {
      errors.push_back("the checkpoint's " + std::string(schedule->kind()) + " state is invalid: " + problem);
      detail::ScheduleState undo(detail::ScheduleState::What::swap, nullptr, nullptr, schedule_staged);
      schedule->visit_state(undo);
      detail::OptimizerSwap<T> undo_optimizer(staged, detail::OptimizerSwap<T>::What::options);
      optimizer.visit_state(undo_optimizer);
    }
  }
  if (!errors.empty()) throw Error(detail::join_errors(who, path, errors));

  // Everything checked: now change the loader (set_order and set_epoch_state check again, before they change
  // anything), the model (copies into its tensors), its generators and the optimizer's tensors
  // (swapped in from the staged copies; its options are in already).
  loader.set_order(order);
  loader.generator() = loader_generator;
  loader.set_epoch_state(epoch);
  detail::copy_state(file, state);
  for (std::size_t i = 0; i < generators.size(); ++i) *state.generators[i].second = generators[i];
  detail::OptimizerSwap<T> tensors(staged, detail::OptimizerSwap<T>::What::tensors);
  optimizer.visit_state(tensors);
  return step;
}

// The same with an LR schedule of the optimizer, saved and restored with the rest.
template <class Model, class T, class L>
void save_checkpoint(Model& model, optim::Optimizer<T>& optimizer, optim::LRScheduler<T>& schedule,
                     data::DataLoader<L>& loader, std::int64_t step, const std::filesystem::path& path) {
  save_checkpoint(model, optimizer, loader, step, path, &schedule);
}
template <class Model, class T, class L>
std::int64_t load_checkpoint(Model& model, optim::Optimizer<T>& optimizer, optim::LRScheduler<T>& schedule,
                             data::DataLoader<L>& loader, const std::filesystem::path& path) {
  return load_checkpoint(model, optimizer, loader, path, &schedule);
}

}  // namespace ember::io

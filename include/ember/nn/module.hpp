// The module contract: what every layer and model provides.
//
//   - forward(x) returns the output (a const reference to a buffer of the layer) and keeps what
//     backward needs; backward(dy) returns dx and ADDS the parameter gradients into each
//     parameter's grad, as PyTorch accumulates.
//   - All state (parameters, buffers, generators) is reached through one visitor,
//     visit_state(visitor, prefix), in PyTorch's state_dict order and names. named_parameters(),
//     parameters(), named_buffers(), state_dict(), load_state_dict() and zero_grad() are written
//     once here on top of it, and so are io::save / io::load and checkpoints.
//   - A layer object used several times in one forward keeps each use's saved state (detail::Tape)
//     and its backward calls consume them in reverse order, as autograd does; an input changed
//     between forward and backward is refused by its version counter (detail::SavedInput).
//   - nn::Layer (a concept) states this; every layer is checked against it at compile time.
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <algorithm>
#include <ostream>
#include <sstream>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "ember/error.hpp"
#include "ember/nn/graph.hpp"
#include "ember/random.hpp"
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

// A buffer: state saved and loaded but not trained (BatchNorm's running_mean is a Tensor<T>,
// its num_batches_tracked a 0-d Tensor<int64_t>, as PyTorch's dtypes).
template <class T>
using BufferRef = std::variant<Tensor<T>*, Tensor<std::int64_t>*>;
template <class T = float>
struct NamedBuffer {
  std::string name;
  BufferRef<T> buffer;
};

// A state_dict name as a path of parts ("0", "1", "weight" -> "0.1.weight"), spelled out only when
// asked for, so that visiting the state (zero_grad) allocates nothing.
class Name {
 public:
  Name(const Name* parent, std::string_view part) : parent_(parent), part_(part) {}
  std::string str() const {
    std::string s = parent_ ? parent_->str() : std::string();
    if (!s.empty() && !part_.empty()) s += '.';
    return s.append(part_);
  }
  friend std::ostream& operator<<(std::ostream& out, const Name& n) { return out << n.str(); }

 private:
  const Name* parent_;
  std::string_view part_;
};

// What visit_state() yields. Override the kinds of state you want.
template <class T>
class StateVisitor {
 public:
  virtual void parameter(const Name&, Parameter<T>&) {}
  virtual void buffer(const Name&, Tensor<T>&) {}
  virtual void buffer(const Name&, Tensor<std::int64_t>&) {}
  // A generator a layer draws from (Dropout): not in state_dict() (PyTorch's has none), in
  // checkpoints.
  virtual void generator(const Name&, Generator&) {}

 protected:
  ~StateVisitor() = default;
};

template <class T>
class Module;

// What visit_children() yields: each layer a module holds directly, under its name, in order
// (torch's named_children()). nn::summary walks a model with it.
template <class T>
class ChildVisitor {
 public:
  virtual void child(std::string_view name, Module<T>& layer) = 0;

 protected:
  ~ChildVisitor() = default;
};

namespace detail {

// A StateVisitor that hands each piece of state to f(name, state) when f takes it.
template <class T, class F>
class FunctionVisitor final : public StateVisitor<T> {
 public:
  explicit FunctionVisitor(F& f) : f_(f) {}
  void parameter(const Name& n, Parameter<T>& p) override { call(n, p); }
  void buffer(const Name& n, Tensor<T>& b) override { call(n, b); }
  void buffer(const Name& n, Tensor<std::int64_t>& b) override { call(n, b); }
  void generator(const Name& n, Generator& g) override { call(n, g); }

 private:
  template <class S>
  void call(const Name& n, S& s) {
    if constexpr (std::is_invocable_v<F&, const Name&, S&>) f_(n, s);
  }
  F& f_;
};

}  // namespace detail

// Calls f(name, state) for each piece of state of `m` that f accepts: Parameter<T>&,
// Tensor<T>& / Tensor<int64_t>& (buffers), Generator&.
template <class T, class M, class F>
void for_each_state(M& m, F&& f, const Name* prefix = nullptr) {
  detail::FunctionVisitor<T, std::remove_reference_t<F>> v(f);
  m.visit_state(v, prefix);
}

// A deep copy of a model's parameters and buffers under their names, in state_dict order.
template <class T>
struct StateDictEntry {
  std::string name;
  std::variant<Tensor<T>, Tensor<std::int64_t>> tensor;
};
template <class T>
using StateDict = std::vector<StateDictEntry<T>>;

namespace detail {

// Checks a whole state_dict against the module, then copies it in (strict, as torch's).
template <class T>
void load_state_dict_into(auto& module, const StateDict<T>& sd, const char* who) {
  std::vector<std::string> errors;
  std::vector<bool> used(sd.size(), false);
  const auto find = [&](const std::string& name) -> const StateDictEntry<T>* {
    for (std::size_t i = 0; i < sd.size(); ++i)
      if (sd[i].name == name) {
        used[i] = true;
        return &sd[i];
      }
    errors.push_back("\"" + name + "\" is missing");
    return nullptr;
  };
  const auto check = [&](const std::string& name, const auto& target, const StateDictEntry<T>* e) {
    using Want = std::remove_cvref_t<decltype(target)>;
    if (!e) return;
    if (!std::holds_alternative<Want>(e->tensor)) {
      errors.push_back("\"" + name + "\" has another dtype than the model's");
      return;
    }
    const auto& have = std::get<Want>(e->tensor);
    if (!(have.shape() == target.shape()))
      errors.push_back("\"" + name + "\" has shape " + ember::detail::concat(have.shape()) + ", the model's is " + ember::detail::concat(target.shape()));
  };
  for_each_state<T>(module, [&](const Name& n, auto& s) {
    using S = std::remove_cvref_t<decltype(s)>;
    const std::string name = n.str();
    if constexpr (std::is_same_v<S, Parameter<T>>) check(name, s.value, find(name));
    else if constexpr (!std::is_same_v<S, Generator>) check(name, s, find(name));
  });
  for (std::size_t i = 0; i < sd.size(); ++i)
    if (!used[i]) errors.push_back("\"" + sd[i].name + "\" is not in the model");
  if (!errors.empty()) {
    std::string msg = std::string(who) + ": ";
    if (errors.size() == 1) msg += errors[0];
    else {
      msg += std::to_string(errors.size()) + " problems:";
      for (const auto& e : errors) msg += "\n  " + e;
    }
    throw Error(msg);
  }
  for_each_state<T>(module, [&](const Name& n, auto& s) {
    using S = std::remove_cvref_t<decltype(s)>;
    const std::string name = n.str();
    for (const auto& e : sd)
      if (e.name == name) {
        if constexpr (std::is_same_v<S, Parameter<T>>) s.value = std::get<Tensor<T>>(e.tensor);
        else if constexpr (!std::is_same_v<S, Generator>) s = std::get<S>(e.tensor);
      }
  });
}

}  // namespace detail

namespace detail {

// How many forward()s of one layer object a tape holds in one step: more uses of one object in
// one forward are not supported (and a train-mode forward() repeated without any backward()
// keeps no more than this many saved states).
inline constexpr std::size_t max_uses = 16;

// The step of the model's forward being recorded on this thread (0: none): every layer called in
// one outermost model(x), nested models included, sees the same number.
inline std::uint64_t& recording_step() {
  thread_local std::uint64_t step = 0;
  return step;
}

// Counts backward() calls of every layer on this thread. A tape that sees it changed since its
// last forward() knows that a backward ran in between: that forward began a new step.
inline std::uint64_t& backward_generation() {
  thread_local std::uint64_t n = 0;
  return n;
}

// The saved state of a layer's forward() calls (outputs, masks, inputs, dx), one slot per use. In
// train mode each forward() takes a new slot, so a layer object used twice in one forward keeps
// both uses, and its backward() calls, which come in reverse order, take them back in reverse.
// The first forward() after any layer's backward() (on this thread) starts a new tape, so a layer
// whose backward is skipped (before the first layer with parameters) holds one slot, not one per
// step; so does a forward() given the same input tensor as the step's first use (forward() in
// train mode repeated without backward: a benchmark, an evaluation that forgot eval()). In eval mode forward() writes slot 0 and keeps nothing. Slots are reused: steady state
// allocates nothing.
template <class Saved>
class Tape {
 public:
  Tape() = default;
  Tape(const Tape&) {}  // a copied layer starts with an empty tape
  Tape& operator=(const Tape&) {
    used_ = 0;
    last_ = nullptr;
    return *this;
  }
  Tape(Tape&&) noexcept = default;
  Tape& operator=(Tape&&) noexcept = default;

  // `input`: the tensor forward() was given. The same tensor again in one step is a new step (a
  // train-mode forward repeated without backward, on the same batch buffer), not a second use.
  Saved& record(bool training, const void* input) {
    const std::uint64_t now = backward_generation();
    // Inside a model's recorded forward the graph says which step this is (the same input given
    // twice is then two uses); outside, the rules above guess it.
    const std::uint64_t step = recording_step();
    const bool same_step = step != 0 ? step == step_ && !unwinding_
                                     : now == generation_ && !unwinding_ && !(used_ > 0 && input == first_input_);
    step_ = step;
    overflowed_ = training && same_step && used_ == max_uses;
    if (!training || !same_step || used_ == max_uses) used_ = 0;
    if (used_ == 0) first_input_ = input;
    generation_ = now;
    unwinding_ = false;
    if (slots_.size() <= used_) slots_.push_back(std::make_unique<Saved>());
    Saved& s = *slots_[used_];
    if (training) ++used_;
    last_ = &s;
    return s;
  }
  // Whether no forward() was ever recorded.
  bool empty() const { return slots_.empty(); }
  // The saved state of the latest forward() (null before the first).
  const Saved* last() const { return last_; }
  // The saved state of the latest forward() not yet taken by a backward().
  template <class Layer>
  Saved& pop(const Layer& layer) {
    if (used_ == 0) {
      const char* why = overflowed_ ? " (forward() ran more than 16 times in train mode in one step: one layer object "
                                      "used more than 16 times in one forward is not supported)"
                        : unwinding_ ? " (each forward() was already taken by a backward(); as in PyTorch, a second "
                                       "backward() needs a new forward())"
                                     : "";
      throw Error(ember::detail::concat(layer, ": backward() needs a forward() in train mode first", why));
    }
    ++backward_generation();
    unwinding_ = true;
    return *slots_[--used_];
  }

 private:
  std::vector<std::unique_ptr<Saved>> slots_;
  std::size_t used_ = 0;
  std::uint64_t generation_ = 0;
  std::uint64_t step_ = 0;             // recording_step() of the last forward()
  Saved* last_ = nullptr;
  const void* first_input_ = nullptr;  // the input of the step's first use
  bool unwinding_ = false;
  bool overflowed_ = false;
};

}  // namespace detail

// The base of every ember layer and model (a virtual call per layer: a model built at run time
// needs it, and it costs nanoseconds beside the microseconds of the kernels).
//
// A layer writes forward() and backward(). A model writes forward() only, calling its members
// as conv1(x) and nn::functional ops, and lists its members once with EMBER_MODULE: its
// backward() is derived from the graph its last forward recorded (nn/graph.hpp), and its state,
// train()/eval(), repr and summary come from the member list. Call a model as model(x), as in
// PyTorch: that call records; model.forward(x) is the function you write.
template <class T = float>
class Module {
 public:
  using value_type = T;

  Module() = default;
  // A copy or a moved-to module starts with no recorded graph (the graph points into the
  // original's members).
  Module(const Module& other) : training_(other.training_), needs_input_grad_(other.needs_input_grad_),
                                input_grad_set_(other.input_grad_set_) {}
  Module(Module&& other) noexcept : Module(std::as_const(other)) {}
  Module& operator=(const Module& other) {
    training_ = other.training_;
    needs_input_grad_ = other.needs_input_grad_;
    input_grad_set_ = other.input_grad_set_;
    graphs_ = {};
    return *this;
  }
  Module& operator=(Module&& other) noexcept { return *this = std::as_const(other); }
  virtual ~Module() = default;

  virtual const Tensor<T>& forward(const Tensor<T>& x) = 0;
  // A layer writes its own. A model's is the replay of the graph its last forward recorded:
  // it returns dx of the model's input (empty when that input needs no gradient).
  virtual const Tensor<T>& backward(const Tensor<T>& dy);
  // Yields parameters, then buffers, then generators, then the children's, under `prefix`. The
  // default yields the children's (visit_children) under their names.
  virtual void visit_state(StateVisitor<T>& v, const Name* prefix = nullptr);
  // In eval mode forward() keeps nothing for backward(), and backward() is an error. The
  // default sets this module's mode and every child's, so a whole model changes mode at once.
  virtual void train(bool on = true);
  // Tells the layer whether backward() must compute dx. The first layer of a network does
  // not need it (PyTorch skips it too); for Linear and Conv2d that is a third of the backward.
  // A model's recorded backward sets it for each of its layers from the graph.
  virtual void set_needs_input_grad(bool on) {
    needs_input_grad_ = on;
    input_grad_set_ = true;
  }
  // The layers this one holds (none for a layer; Sequential yields its own; EMBER_MODULE yields
  // a model's members under their names).
  virtual void visit_children(ChildVisitor<T>&) {}
  // PyTorch's repr; `indent` is the nesting depth. The default prints the children, as torch's
  // nn.Module.__repr__: "Net(\n  (conv1): Conv2d(...)\n)".
  virtual void print(std::ostream& out, int indent = 0) const;
  // The class name in the repr ("Net", "Sequential"); EMBER_MODULE sets it.
  virtual std::string_view type_name() const { return "Module"; }
  // Whether one object may be called several times in one forward: ember's layers keep each
  // call's saved state (detail::Tape) and say so, as does a model with a recorded backward (one
  // graph per call); a layer of your own with its own backward says no unless it does.
  virtual bool keeps_each_use() const { return !graphs_.empty(); }

  // Runs forward(x) and records it, as PyTorch's module(x): called inside a model's forward, it
  // is a node of that model's graph; called from outside, this module becomes the root of a new
  // recording (its backward replays it).
  const Tensor<T>& operator()(const Tensor<T>& x);
  const Tensor<T>& operator()(Tensor<T>&&) = delete;  // layers keep their inputs until backward

  // The graph of this module's latest recorded forward, if any (nn::summary reads its calls).
  const detail::Graph<T>* last_graph() const { return graphs_.last(); }
  // A new graph for this module's forward of x as a root (internal: nn/graph.hpp).
  detail::Graph<T>& graph_for_recording_(const Tensor<T>& x) { return graphs_.record(training_, &x); }

  void eval() { train(false); }
  bool is_training() const { return training_; }
  // A layer's input needs a gradient unless told otherwise; a model's (a module with children:
  // Sequential, a model of your own) does not, as images need none in PyTorch.
  bool needs_input_grad() const { return input_grad_set_ ? needs_input_grad_ : !has_children(); }
  bool has_children() const;

  // state_dict names: "weight", "0.bias", "fc1.weight", ...
  NamedParameters<T> named_parameters(const std::string& prefix = "") {
    NamedParameters<T> out;
    const Name root(nullptr, prefix);
    for_each_state<T>(*this, [&](const Name& n, Parameter<T>& p) { out.push_back({n.str(), p}); }, &root);
    return out;
  }
  std::vector<Parameter<T>*> parameters() {
    std::vector<Parameter<T>*> out;
    for_each_state<T>(*this, [&](const Name&, Parameter<T>& p) { out.push_back(&p); });
    return out;
  }
  std::vector<NamedBuffer<T>> named_buffers(const std::string& prefix = "") {
    std::vector<NamedBuffer<T>> out;
    const Name root(nullptr, prefix);
    for_each_state<T>(*this, [&](const Name& n, auto& b) {
      if constexpr (!std::is_same_v<std::remove_cvref_t<decltype(b)>, Parameter<T>> &&
                    !std::is_same_v<std::remove_cvref_t<decltype(b)>, Generator>)
        out.push_back({n.str(), &b});
    }, &root);
    return out;
  }
  // Every module below this one with its path, as torch's named_modules(): ("", this) first,
  // then ("conv1", ...), ("block.0", ...).
  std::vector<std::pair<std::string, Module<T>*>> named_modules(const std::string& prefix = "");
  bool has_parameters() {
    bool any = false;
    for_each_state<T>(*this, [&](const Name&, Parameter<T>&) { any = true; });
    return any;
  }
  // Sets every parameter's grad to zero (allocates nothing).
  void zero_grad() {
    for_each_state<T>(*this, [](const Name&, Parameter<T>& p) { p.grad.zero(); });
  }
  // Copies of the parameters and buffers, as torch's state_dict(), and back: strict, as torch's
  // load_state_dict(strict=True); every mismatch is reported in one ember::Error, and on any
  // nothing is changed.
  StateDict<T> state_dict() {
    StateDict<T> out;
    for_each_state<T>(*this, [&](const Name& n, auto& s) {
      using S = std::remove_cvref_t<decltype(s)>;
      if constexpr (std::is_same_v<S, Parameter<T>>) out.push_back({n.str(), s.value});
      else if constexpr (!std::is_same_v<S, Generator>) out.push_back({n.str(), s});
    });
    return out;
  }
  void load_state_dict(const StateDict<T>& sd) { detail::load_state_dict_into<T>(*this, sd, "load_state_dict"); }

  // Rvalue inputs are refused: layers keep what they need of the input until backward().
  const Tensor<T>& forward(Tensor<T>&&) = delete;

 protected:
  // Runs f() (which computes forward(x)) as the root of a recording unless one is in progress:
  // Sequential's forward() records itself, so model.forward(x) works for it as model(x) does.
  template <class F>
  const Tensor<T>& record_root(const Tensor<T>& x, F&& f);

  bool training_ = true;
  bool needs_input_grad_ = true;

 private:
  friend class detail::Graph<T>;
  bool input_grad_set_ = false;
  // The graphs of this module's recorded forwards as a root, one per use (as a layer's saved
  // states): a model called twice in one forward unwinds both.
  detail::Tape<detail::Graph<T>> graphs_;
  // This module's latest node: the step and the node index, to find a second use in one forward.
  std::uint64_t graph_step_ = 0;
  std::int64_t graph_node_ = -1;
  std::uint64_t member_mark_ = 0;  // the members check of a graph's backward
  // This module's uses in the outermost training forward recorded last (its recording_step()),
  // in any graph, and how many of their backwards have run: the last one completes its gradients.
  std::uint64_t use_step_ = 0;
  int uses_ = 0, backwards_done_ = 0;
  void count_use_() {
    if (use_step_ != detail::recording_step()) use_step_ = detail::recording_step(), uses_ = 0, backwards_done_ = 0;
    ++uses_;
  }
  bool last_backward_() { return ++backwards_done_ == uses_; }
};

template <class T>
std::ostream& operator<<(std::ostream& out, const Module<T>& m) {
  m.print(out, 0);
  return out;
}

namespace detail {

// The versions of a layer's parameters that a cache derived from them (Linear's packed weights)
// was made from: matches() is false after any write to them, or before the first note().
template <class T>
class VersionsOf {
 public:
  bool matches(const Tensor<T>& a, const Tensor<T>* b) const {
    return valid_ && a.version_id() == id_[0] && a.version() == version_[0] &&
           (b ? b->version_id() == id_[1] && b->version() == version_[1] : id_[1] == nullptr);
  }
  void note(const Tensor<T>& a, const Tensor<T>* b) {
    id_[0] = a.version_id();
    version_[0] = a.version();
    id_[1] = b ? b->version_id() : nullptr;
    version_[1] = b ? b->version() : 0;
    valid_ = a.version_id() != nullptr;  // raw views have no counter: never trusted
  }
  VersionsOf() = default;
  VersionsOf(const VersionsOf&) {}  // a copy's cache is made anew
  VersionsOf& operator=(const VersionsOf&) {
    valid_ = false;
    return *this;
  }

 private:
  const void* id_[2] = {nullptr, nullptr};
  std::uint64_t version_[2] = {0, 0};
  bool valid_ = false;
};

// An input a layer reads again in backward() (Linear's x), with the version it had in forward().
template <class T>
class SavedInput {
 public:
  void save(const Tensor<T>& x) {
    x_ = &x;
    id_ = x.version_id();
    version_ = x.version();
  }
  template <class Layer>
  const Tensor<T>& get(const Layer& layer) const {
    if (x_->version_id() != id_ || x_->version() != version_)
      throw Error(ember::detail::concat(layer, ": backward(): the input of forward() was modified before backward() (version ",
                         version_, ", now ", x_->version_id() == id_ ? x_->version() : version_ + 1,
                         "), and the gradient needs it as it was (PyTorch: \"modified by an inplace operation\"). "
                         "Do not write into a layer's input until its backward() has run; any non-const access "
                         "(data(), t(i, j), matrix()) counts as a write, so read it through a const reference"));
    return *x_;
  }

 private:
  const Tensor<T>* x_ = nullptr;
  const void* id_ = nullptr;
  std::uint64_t version_ = 0;
};

}  // namespace detail

// What a layer provides: ember's layers derive from Module<T> and satisfy it; a layer of your
// own may either derive from Module<T> or provide the same members (Sequential takes both).
template <class L>
concept Layer = requires(L& l, const L& cl, const Tensor<typename L::value_type>& x,
                         StateVisitor<typename L::value_type>& v, std::ostream& out) {
  typename L::value_type;
  { l.forward(x) } -> std::same_as<const Tensor<typename L::value_type>&>;
  { l.backward(x) } -> std::same_as<const Tensor<typename L::value_type>&>;
  l.visit_state(v, static_cast<const Name*>(nullptr));
  l.train(true);
  l.eval();
  { cl.is_training() } -> std::convertible_to<bool>;
  l.set_needs_input_grad(true);
  { cl.needs_input_grad() } -> std::convertible_to<bool>;
  l.zero_grad();
  out << cl;
};


// ---- Module's members that walk children or the graph ----

namespace detail {

// Calls f(name, child) for each child of m.
template <class T, class F>
void for_each_child(Module<T>& m, F&& f) {
  struct Visitor final : ChildVisitor<T> {
    F& f;
    explicit Visitor(F& f_) : f(f_) {}
    void child(std::string_view name, Module<T>& layer) override { f(name, layer); }
  } v(f);
  m.visit_children(v);
}

// Sets member_mark on m and every module below it.
template <class T>
void mark_members(Module<T>& m, std::uint64_t mark, void (*set)(Module<T>&, std::uint64_t)) {
  set(m, mark);
  for_each_child<T>(m, [&](std::string_view, Module<T>& c) { mark_members(c, mark, set); });
}

// The path of `target` below `m` ("block.0"), or false when it is not below it.
template <class T>
bool find_path(Module<T>& m, const Module<T>* target, std::string& path) {
  bool found = false;
  for_each_child<T>(m, [&](std::string_view name, Module<T>& c) {
    if (found) return;
    const std::size_t keep = path.size();
    if (!path.empty()) path += '.';
    path.append(name);
    if (&c == target || find_path(c, target, path)) found = true;
    else path.resize(keep);
  });
  return found;
}

}  // namespace detail

template <class T>
bool Module<T>::has_children() const {
  bool any = false;
  detail::for_each_child<T>(const_cast<Module&>(*this), [&](std::string_view, Module<T>&) { any = true; });
  return any;
}

template <class T>
void Module<T>::visit_state(StateVisitor<T>& v, const Name* prefix) {
  detail::for_each_child<T>(*this, [&](std::string_view name, Module<T>& c) {
    const Name n(prefix, name);
    c.visit_state(v, &n);
  });
}

template <class T>
void Module<T>::train(bool on) {
  training_ = on;
  detail::for_each_child<T>(*this, [&](std::string_view, Module<T>& c) { c.train(on); });
}

template <class T>
void Module<T>::print(std::ostream& out, int indent) const {
  out << type_name() << "(";
  bool any = false;
  detail::for_each_child<T>(const_cast<Module&>(*this), [&](std::string_view name, Module<T>& c) {
    out << "\n" << std::string(2 * (indent + 1), ' ') << "(" << name << "): ";
    c.print(out, indent + 1);
    any = true;
  });
  if (any) out << "\n" << std::string(2 * indent, ' ');
  out << ")";
}

template <class T>
std::vector<std::pair<std::string, Module<T>*>> Module<T>::named_modules(const std::string& prefix) {
  std::vector<std::pair<std::string, Module<T>*>> out{{prefix, this}};
  detail::for_each_child<T>(*this, [&](std::string_view name, Module<T>& c) {
    const std::string path = prefix.empty() ? std::string(name) : prefix + "." + std::string(name);
    for (auto& entry : c.named_modules(path)) out.push_back(std::move(entry));
  });
  return out;
}

// Records f() (which runs forward(x)) as this module's own graph, made on its first node: a
// layer records none. The recording in progress, if any, is put aside and restored.
template <class T>
template <class F>
const Tensor<T>& Module<T>::record_root(const Tensor<T>& x, F&& f) {
  auto& rec = detail::recorder<T>();
  if (rec.root == this) return f();  // operator() began this recording
  struct Scope {
    detail::Recorder<T>& rec;
    detail::Recorder<T> outer;
    std::uint64_t outer_step;
    ~Scope() {
      if (rec.graph && std::uncaught_exceptions() > 0) rec.graph->abort();
      rec = outer;
      detail::recording_step() = outer_step;
    }
  } scope{rec, rec, detail::recording_step()};
  rec = {this, &x, nullptr};
  if (!scope.outer.root) detail::recording_step() = detail::next_step_id();
  const Tensor<T>& y = f();
  if (rec.graph) rec.graph->end(y);
  return y;
}

namespace detail {
// The graph being recorded, made when its root's first node comes.
template <class T>
Graph<T>* recording_graph() {
  auto& rec = recorder<T>();
  if (!rec.root) return nullptr;
  if (!rec.graph) {
    auto& g = rec.root->graph_for_recording_(*rec.root_input);
    g.begin(*rec.root, *rec.root_input);
    rec.graph = &g;
  }
  return rec.graph;
}
}  // namespace detail

// Inside a model's forward, this call is a node of the model's graph, whose backward is this
// module's: its own (a layer) or the replay of the graph its forward recorded (a model).
// An error in a model's forward gains which layer raised it and what made its input.
template <class T>
const Tensor<T>& Module<T>::operator()(const Tensor<T>& x) {
  if (!detail::recorder<T>().root) return record_root(x, [&]() -> const Tensor<T>& { return forward(x); });
  const Tensor<T>* y = nullptr;
  try {
    y = &record_root(x, [&]() -> const Tensor<T>& { return forward(x); });
  } catch (const Error& e) {
    throw Error(detail::recording_graph<T>()->forward_error(*this, x, e.what()));
  }
  detail::recording_graph<T>()->record_layer(*this, x, *y);
  return *y;
}

template <class T>
const Tensor<T>& Module<T>::backward(const Tensor<T>& dy) {
  if (graphs_.empty())
    throw Error(ember::detail::concat(
        type_name(), ": backward() has no recorded forward to replay. A model that writes only forward() is called as "
        "model(x) (in train mode) before its backward(); model.forward(x) runs your forward without recording it. A "
        "layer of your own with its own math must override backward()"));
  return graphs_.pop(*this).backward(*this, dy);
}

// ---- Graph's members that call into modules ----

namespace detail {

template <class T>
std::string Graph<T>::root_name() const {
  return root_ ? std::string(root_->type_name()) : std::string("the model");
}

template <class T>
std::string Graph<T>::locate(const Module<T>& m) const {
  std::string path;
  if (root_ && detail::find_path(*root_, &m, path)) return ember::detail::concat(root_->type_name(), " layer ", path);
  return root_name();
}

template <class T>
std::string Graph<T>::describe(const Module<T>& m) const {
  std::ostringstream out;
  out << locate(m) << " (";
  m.print(out, 0);
  out << ")";
  return out.str();
}

template <class T>
std::string Graph<T>::forward_error(const Module<T>& m, const Tensor<T>& x, std::string_view what) const {
  std::ostringstream out;
  out << locate(m) << " forward: " << what;
  const std::ptrdiff_t p = producer_of(x, nodes_used_);
  if (p >= 0) {
    const Node& n = *nodes_[static_cast<std::size_t>(p)];
    out << " (its input is the output of ";
    if (n.kind != Kind::layer) out << "nn::functional::" << n.op << ")";
    else if (n.owned) out << "nn::functional's " << *n.layer << ")";
    else {
      std::string path;
      if (detail::find_path(*root_, n.layer, path)) out << "layer " << path << ", ";
      out << *n.layer << ")";
    }
  }
  return out.str();
}

template <class T>
void Graph<T>::check_members(Module<T>& root) {
  const std::uint64_t mark = next_step_id();
  detail::mark_members<T>(root, mark, [](Module<T>& m, std::uint64_t k) { m.member_mark_ = k; });
  for (std::size_t i = 0; i < nodes_used_; ++i) {
    const Node& n = *nodes_[i];
    if (n.kind == Kind::layer && !n.owned && n.layer->member_mark_ != mark) {
      std::ostringstream layer;
      n.layer->print(layer, 0);
      throw Error(ember::detail::concat(root.type_name(), ": backward(): ", layer.str(),
                                        " was called in forward() but is not in the model's member list "
                                        "(EMBER_MODULE(", root.type_name(), ", ...), or visit_children): its "
                                        "parameters would be neither trained nor saved. Add it to the list"));
    }
  }
}

template <class T>
void Graph<T>::add_grad(Node& n, const Tensor<T>& g) {
  ember::detail::check(g.shape() == n.output->shape(), root_name(), ": backward(): a gradient of shape ", g.shape(),
                       " reached a tensor of shape ", n.output->shape());
  if (n.contributions == 0) {
    n.grad = &g;
  } else {
    if (n.contributions == 1) {
      n.sum = *n.grad;
      n.grad = &n.sum;
    }
    n.sum.array() += g.array();
  }
  ++n.contributions;
}

template <class T>
void Graph<T>::route(const Input& in, const Tensor<T>& g) {
  if (in.producer >= 0) {
    add_grad(*nodes_[static_cast<std::size_t>(in.producer)], g);
  } else if (in.producer == root_producer && root_requires_grad_) {
    if (root_contributions_ == 0) {
      root_grad_ = &g;
    } else {
      if (root_contributions_ == 1) {
        root_sum_ = *root_grad_;
        root_grad_ = &root_sum_;
      }
      root_sum_.array() += g.array();
    }
    ++root_contributions_;
  }
}

template <class T>
const Tensor<T>& Graph<T>::backward(Module<T>& root, const Tensor<T>& dy) {
  if (state_ == State::replayed)
    throw Error(ember::detail::concat(root.type_name(), ": backward() was already called for this forward (as in "
                                      "PyTorch, \"Trying to backward through the graph a second time\"): run a new "
                                      "forward first"));
  if (state_ != State::recorded)
    throw Error(ember::detail::concat(root.type_name(), ": backward() has no complete recorded forward to replay: "
                                      "call the model as model(x) in train mode first"));
  if (!training_)
    throw Error(ember::detail::concat(root.type_name(), ": backward() after a forward in eval mode, which keeps "
                                      "nothing for backward: call train() before the forward"));
  ember::detail::check(dy.shape() == root_output_->shape(), root.type_name(), ": backward(): expected dy of shape ",
                       root_output_->shape(), " (the output's), got ", dy.shape());
  check_members(root);
  state_ = State::replayed;  // from here on, a failure leaves nothing to replay again

  // Which tensors need a gradient: the root's input when the model says so, and everything made
  // from it or by a layer with parameters.
  root_requires_grad_ = root.needs_input_grad();
  for (std::size_t i = 0; i < nodes_used_; ++i) {
    Node& n = *nodes_[i];
    bool any = n.kind == Kind::layer && n.layer->has_parameters();
    for (std::size_t k = 0; k < n.inputs; ++k) any = any || input_requires_grad(inputs_[n.first_input + k]);
    n.requires_grad = any;
  }
  // Each layer computes dx only when one of its uses needs it.
  for (std::size_t i = 0; i < nodes_used_; ++i) {
    Node& n = *nodes_[i];
    if (n.kind != Kind::layer) continue;
    bool need = input_requires_grad(inputs_[n.first_input]);
    if (n.multi_use)
      for (std::size_t j = 0; j < nodes_used_ && !need; ++j)
        need = nodes_[j]->layer == n.layer && input_requires_grad(inputs_[nodes_[j]->first_input]);
    if (n.layer->needs_input_grad() != need) n.layer->set_needs_input_grad(need);
  }

  root_grad_ = nullptr;
  root_contributions_ = 0;
  bool seeded = false;
  for (std::size_t i = nodes_used_; i-- > 0;)
    if (nodes_[i]->output == root_output_) {
      add_grad(*nodes_[i], dy);
      seeded = true;
      break;
    }
  if (!seeded) {
    if (root_output_ == root_input_) route({root_input_, root_producer}, dy);
    else
      throw Error(ember::detail::concat(root.type_name(), ": backward(): forward() returned a tensor that no "
                                        "recorded layer or nn::functional op made (a copy, or a layer called as "
                                        "layer.forward(h)): return the result of a call such as fc2(h)"));
  }

  for (std::size_t i = nodes_used_; i-- > 0;) {
    Node& n = *nodes_[i];
    if (!n.grad && !n.multi_use) continue;
    if (!n.grad) {  // a use that received no gradient, unwound so the layer's other uses stay in step
      n.sum.resize(n.output->shape());
      n.grad = &n.sum;
    }
    const Input* in = &inputs_[n.first_input];
    switch (n.kind) {
      case Kind::layer: {
        const Tensor<T>* dx = nullptr;
        try {
          dx = &n.layer->backward(*n.grad);
        } catch (const Error& e) {
          throw Error(ember::detail::concat(n.owned ? root_name() + " (a functional op)" : locate(*n.layer),
                                            " backward: ", e.what()));
        }
        if (input_requires_grad(in[0]) && !dx->empty()) route(in[0], *dx);
        if (BackwardObserver<T>* observer = backward_observer<T>(); observer && !n.owned && n.layer->last_backward_())
          observer->layer_done(*n.layer);
        break;
      }
      case Kind::add:
        for (std::size_t k = 0; k < n.inputs; ++k)
          if (input_requires_grad(in[k])) route(in[k], *n.grad);
        break;
      case Kind::view:
        if (input_requires_grad(in[0])) {
          n.slot->dview = Tensor<T>::view(n.grad->data(), in[0].tensor->shape());
          route(in[0], n.slot->dview);
        }
        break;
      case Kind::cat: {
        const Shape& s = n.output->shape();
        index_t outer = 1, inner = 1;
        for (int d = 0; d < n.dim; ++d) outer *= s[d];
        for (int d = n.dim + 1; d < s.dim(); ++d) inner *= s[d];
        const T* g = n.grad->data();
        const index_t row = s[n.dim] * inner;
        index_t offset = 0;
        if (n.slot->dparts.size() < n.inputs) n.slot->dparts.resize(n.inputs);
        for (std::size_t k = 0; k < n.inputs; ++k) {
          const Tensor<T>& x = *in[k].tensor;
          const index_t width = x.shape()[n.dim] * inner;
          if (input_requires_grad(in[k])) {
            Tensor<T>& part = n.slot->dparts[k];
            part.resize_uninitialized(x.shape());
            T* p = part.data();
            for (index_t o = 0; o < outer; ++o) std::copy_n(g + o * row + offset, width, p + o * width);
            route(in[k], part);
          }
          offset += width;
        }
        break;
      }
    }
  }
  return root_requires_grad_ && root_grad_ ? *root_grad_ : empty_;
}

}  // namespace detail

namespace detail {
// model(x) for an nn::Module (recorded), model.forward(x) for a struct of your own.
template <class M, class X>
decltype(auto) call_forward(M& model, const X& x) {
  if constexpr (requires { model(x); }) return model(x);
  else return model.forward(x);
}
}  // namespace detail

// EMBER_MODULE(Class, members...): the one list of a model's members, in the struct (nlohmann's
// NLOHMANN_DEFINE_TYPE_INTRUSIVE convention). From it come the state (names "conv1.weight"),
// train()/eval() of every descendant, named_modules(), nn::summary and PyTorch's repr; and
// module.forward(temporary) does not compile.
//
//   struct Net : nn::Module<float> {
//     nn::Linear<> fc1{784, 128}, fc2{128, 10};
//     EMBER_MODULE(Net, fc1, fc2)
//     const Tensor<>& forward(const Tensor<>& x) override { return fc2(F::relu(fc1(F::flatten(x)))); }
//   };
#define EMBER_MODULE(Class, ...)                                                                    \
 public:                                                                                            \
  using ::ember::nn::Module<typename Class::value_type>::forward;                                   \
  std::string_view type_name() const override { return #Class; }                                    \
  void visit_children(::ember::nn::ChildVisitor<typename Class::value_type>& ember_visitor_) override { \
    ::ember::nn::detail::visit_members(ember_visitor_, #__VA_ARGS__ __VA_OPT__(, ) __VA_ARGS__);    \
  }

namespace detail {
// visit_members(v, "conv1, conv2", conv1, conv2): each member under its name in the list.
inline std::string_view next_member_name(std::string_view& names) {
  const std::size_t comma = names.find(',');
  std::string_view name = names.substr(0, comma);
  names = comma == std::string_view::npos ? std::string_view() : names.substr(comma + 1);
  while (!name.empty() && (name.front() == ' ' || name.front() == '\n' || name.front() == '\t')) name.remove_prefix(1);
  while (!name.empty() && (name.back() == ' ' || name.back() == '\n' || name.back() == '\t')) name.remove_suffix(1);
  return name;
}
template <class T, class... Members>
void visit_members([[maybe_unused]] ChildVisitor<T>& v, [[maybe_unused]] std::string_view names, Members&... members) {
  static_assert((std::is_base_of_v<Module<T>, Members> && ...),
                "EMBER_MODULE: every member listed must be an nn::Module of the model's scalar type");
  (v.child(next_member_name(names), members), ...);
}
}  // namespace detail

}  // namespace ember::nn

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
#include <memory>
#include <ostream>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "ember/error.hpp"
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

// The base of every ember layer and model (a virtual call per layer: a model built at run time
// needs it, and it costs nanoseconds beside the microseconds of the kernels).
template <class T = float>
class Module {
 public:
  using value_type = T;

  Module() = default;
  Module(const Module&) = default;
  Module(Module&&) noexcept = default;
  Module& operator=(const Module&) = default;
  Module& operator=(Module&&) noexcept = default;
  virtual ~Module() = default;

  virtual const Tensor<T>& forward(const Tensor<T>& x) = 0;
  virtual const Tensor<T>& backward(const Tensor<T>& dy) = 0;
  // Yields parameters, then buffers, then generators, then the children's, under `prefix`.
  virtual void visit_state(StateVisitor<T>&, const Name* prefix = nullptr) { (void)prefix; }
  // In eval mode forward() keeps nothing for backward(), and backward() is an error.
  virtual void train(bool on = true) { training_ = on; }
  // Tells the layer whether backward() must compute dx. The first layer of a network does
  // not need it (PyTorch skips it too); for Linear and Conv2d that is a third of the backward.
  virtual void set_needs_input_grad(bool on) { needs_input_grad_ = on; }
  // The layers this one holds, in the order its forward() runs them (none for a layer; Sequential
  // yields its own; a model of your own lists its members with nn::children_of).
  virtual void visit_children(ChildVisitor<T>&) {}
  // PyTorch's repr; `indent` is the nesting depth (Sequential indents its children).
  virtual void print(std::ostream& out, int indent = 0) const = 0;

  void eval() { train(false); }
  bool is_training() const { return training_; }
  bool needs_input_grad() const { return needs_input_grad_; }

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
  bool training_ = true;
  bool needs_input_grad_ = true;
};

template <class T>
std::ostream& operator<<(std::ostream& out, const Module<T>& m) {
  m.print(out, 0);
  return out;
}

namespace detail {

// How many forward()s of one layer object a tape holds in one step: more uses of one object in
// one forward are not supported (and a train-mode forward() repeated without any backward()
// keeps no more than this many saved states).
inline constexpr std::size_t max_uses = 16;

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
    return *this;
  }
  Tape(Tape&&) noexcept = default;
  Tape& operator=(Tape&&) noexcept = default;

  // `input`: the tensor forward() was given. The same tensor again in one step is a new step (a
  // train-mode forward repeated without backward, on the same batch buffer), not a second use.
  Saved& record(bool training, const void* input) {
    const std::uint64_t now = backward_generation();
    const bool same_step = now == generation_ && !unwinding_ && !(used_ > 0 && input == first_input_);
    overflowed_ = training && same_step && used_ == max_uses;
    if (!training || !same_step || used_ == max_uses) used_ = 0;
    if (used_ == 0) first_input_ = input;
    generation_ = now;
    unwinding_ = false;
    if (slots_.size() <= used_) slots_.push_back(std::make_unique<Saved>());
    Saved& s = *slots_[used_];
    if (training) ++used_;
    return s;
  }
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
  const void* first_input_ = nullptr;  // the input of the step's first use
  bool unwinding_ = false;
  bool overflowed_ = false;
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

}  // namespace ember::nn

// The step graph: what a model that writes only forward() records, and how its backward is
// derived from it (docs/design.md, "The recorded graph").
//
//   - A model called as model(x) in train or eval mode becomes the root of a recording: every
//     module called inside its forward as layer(h), and every nn::functional op, records a node
//     {the layer, its inputs, its output} on the root's graph. A node's backward is its layer's:
//     the layer's own (Linear, Conv2d, a layer of your own), or, for a model nested in another (a
//     block of your own, a Sequential), the replay of the graph its own forward recorded.
//   - Tensors are known by address: a node's input is the root's input, or the output of an
//     earlier node (a layer's output buffer, or a tensor the graph owns: functional ops' outputs
//     and views). Anything else is refused in train mode: a copy of an output, a tensor made
//     outside the graph, a layer called as layer.forward(h), which records nothing.
//   - backward(dy) of the root replays the nodes in reverse, calling each leaf's own backward,
//     routing each dx to the node that made that input and adding where a tensor fed several
//     nodes. A node whose output received no gradient is skipped (unless its layer was used
//     twice: every use of a layer is unwound, in reverse, to keep its saved states in step).
//   - Storage (nodes, functional ops' layers and outputs, gradient sums) is reused from step to
//     step: a steady-state step allocates nothing.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "ember/error.hpp"
#include "ember/tensor.hpp"

namespace ember::nn {

template <class T>
class Module;

namespace detail {

template <class T>
class Graph;

// The recording in progress on this thread (at most one root at a time).
template <class T>
struct Recorder {
  Module<T>* root = nullptr;           // the module whose forward is being recorded
  const Tensor<T>* root_input = nullptr;
  Graph<T>* graph = nullptr;           // the root's graph, made on its first node
};
template <class T>
Recorder<T>& recorder() {
  thread_local Recorder<T> r;
  return r;
}

// Told, during a recorded backward, when a layer's backward has run for the last time in that
// backward (each of its uses in the whole forward unwound, in any nested model: Module counts
// them), so its parameters' gradients are complete:
// dist::DataParallel starts reducing them while the rest of the backward runs (PyTorch's DDP
// autograd hooks). One per thread, set around a backward; null (the default) costs a test.
template <class T>
class BackwardObserver {
 public:
  virtual void layer_done(Module<T>& layer) = 0;

 protected:
  ~BackwardObserver() = default;
};
template <class T>
BackwardObserver<T>*& backward_observer() {
  thread_local BackwardObserver<T>* observer = nullptr;
  return observer;
}

// Identifies a functional op and its arguments: a slot whose key matches reuses its layer.
struct FnKey {
  const char* op = nullptr;
  double a = 0, b = 0, c = 0, d = 0, e = 0, f = 0;
  friend bool operator==(const FnKey&, const FnKey&) = default;
};

// Numbers every recording, so that a module can tell this step's uses from older ones.
inline std::uint64_t next_step_id() {
  static std::atomic<std::uint64_t> n{0};
  return ++n;
}

template <class T>
class Graph {
 public:
  enum class Kind : std::uint8_t { layer, add, cat, view };

  // What a functional op keeps from step to step: its layer (relu, max_pool2d, ...) or its output.
  struct Slot {
    FnKey key;
    std::unique_ptr<Module<T>> layer;
    Tensor<T> out;                  // add / cat: the result; view: the view of the input
    Tensor<T> dview;                // view: dy seen in the input's shape
    std::vector<Tensor<T>> dparts;  // cat: dy's part for each input
  };

  struct Node {
    Kind kind = Kind::layer;
    bool owned = false;         // the layer is a functional op's, not a member of the model
    bool multi_use = false;     // its layer has other nodes in this graph
    bool requires_grad = false;
    Module<T>* layer = nullptr;
    Slot* slot = nullptr;
    const Tensor<T>* output = nullptr;
    std::size_t first_input = 0, inputs = 0;  // in inputs_
    int dim = 0;                                // cat
    const char* op = nullptr;                   // add / cat / view: the op's name, for messages
    // Backward: dy of the output, one contribution by pointer, several summed into sum.
    const Tensor<T>* grad = nullptr;
    int contributions = 0;
    Tensor<T> sum;
  };
  struct Input {
    const Tensor<T>* tensor;
    std::ptrdiff_t producer;  // a node, root_producer (the root's input), or constant (eval mode)
  };
  static constexpr std::ptrdiff_t root_producer = -1, constant = -2;

  // A new recording of `root`'s forward of x.
  void begin(Module<T>& root, const Tensor<T>& x) {
    root_ = &root;
    root_input_ = &x;
    root_output_ = nullptr;
    training_ = root.is_training();
    nodes_used_ = inputs_used_ = slots_used_ = 0;
    step_ = next_step_id();
    state_ = State::recording;
  }
  void end(const Tensor<T>& y) {
    root_output_ = &y;
    state_ = State::recorded;
  }
  void abort() { state_ = State::empty; }

  bool training() const { return training_; }
  // The input of the first call of `layer` in this graph (null when it was not called).
  const Tensor<T>* input_of(const Module<T>* layer) const {
    for (std::size_t i = 0; i < nodes_used_; ++i)
      if (nodes_[i]->kind == Kind::layer && nodes_[i]->layer == layer) return inputs_[nodes_[i]->first_input].tensor;
    return nullptr;
  }
  std::size_t size() const { return nodes_used_; }
  std::uint64_t step() const { return step_; }

  // The next functional op's slot (its layer is kept while the same op comes at that position).
  Slot& next_slot() {
    if (slots_used_ == slots_.size()) slots_.push_back(std::make_unique<Slot>());
    return *slots_[slots_used_++];
  }

  // A layer's call: `layer(x)` returned y, recording nothing itself.
  void record_layer(Module<T>& layer, const Tensor<T>& x, const Tensor<T>& y, Slot* slot = nullptr) {
    Node& n = push_node(Kind::layer, y, slot);
    n.layer = &layer;
    n.owned = slot != nullptr;
    add_input(n, x, layer);
    if (training_ && !n.owned) {
      layer.count_use_();
      if (layer.graph_step_ == step_) {  // a second use of this layer object in this forward
        if (!layer.keeps_each_use())
          throw Error(ember::detail::concat(describe(layer), " is called twice in one forward, but it keeps one saved "
                                            "state for backward (its backward would read the last call's): use two "
                                            "objects, or keep per-use state as ember's layers do (nn::detail::Tape)"));
        n.multi_use = true;
        nodes_[static_cast<std::size_t>(layer.graph_node_)]->multi_use = true;
      }
      layer.graph_step_ = step_;
      layer.graph_node_ = static_cast<std::int64_t>(nodes_used_ - 1);
    }
  }
  // add(a, b), cat(xs, dim), a view: ops the graph computes itself (their output is the slot's).
  Node& record_op(Kind kind, Slot& slot, const char* op) {
    Node& n = push_node(kind, slot.out, &slot);
    n.owned = true;
    n.op = op;
    return n;
  }
  void add_op_input(Node& n, const Tensor<T>& x) { add_input(n, x, n.op); }

  // The derived backward of the root: returns dx of the root's input (an empty tensor when the
  // root's input needs no gradient).
  const Tensor<T>& backward(Module<T>& root, const Tensor<T>& dy);

  // "Net layer fc1": a module by its path in the root, for messages; describe() adds its repr.
  std::string locate(const Module<T>& m) const;
  // The message of an error in m's forward of x: where m is, and what made x.
  std::string forward_error(const Module<T>& m, const Tensor<T>& x, std::string_view what) const;
  std::string describe(const Module<T>& m) const;

 private:
  enum class State : std::uint8_t { empty, recording, recorded, replayed };

  Node& push_node(Kind kind, const Tensor<T>& y, Slot* slot) {
    if (nodes_used_ == nodes_.size()) nodes_.push_back(std::make_unique<Node>());
    Node& n = *nodes_[nodes_used_++];
    n.kind = kind;
    n.slot = slot;
    n.layer = nullptr;
    n.output = &y;
    n.first_input = inputs_used_;
    n.inputs = 0;
    n.grad = nullptr;
    n.contributions = 0;
    n.multi_use = false;
    return n;
  }

  // The node that made x: the newest node whose output is x (a layer's buffer is reused by its
  // next use, so the newest one holds x's current contents), or the root's input.
  std::ptrdiff_t producer_of(const Tensor<T>& x, std::size_t before) const {
    for (std::size_t i = before; i-- > 0;)
      if (nodes_[i]->output == &x) return static_cast<std::ptrdiff_t>(i);
    if (&x == root_input_) return root_producer;
    return constant;
  }

  template <class Who>
  void add_input(Node& n, const Tensor<T>& x, const Who& who) {
    const std::ptrdiff_t p = producer_of(x, nodes_used_ - 1);
    if (p == constant && training_) {
      nodes_used_--;  // the node is not recorded
      throw Error(ember::detail::concat(
          describe_who(who), ": its input is neither the model's input nor the result of a layer or "
          "nn::functional op called in this forward, so no gradient could reach what made it. Keep results as "
          "references (const auto& h = conv1(x); a copy, Tensor h = conv1(x), leaves the graph), call layers as "
          "conv1(x) (conv1.forward(x) is not recorded), and make views with F::reshape / F::flatten / "
          "F::view, not x.reshape() (in eval mode, under no gradient, any tensor may be used)"));
    }
    if (inputs_used_ == inputs_.size()) inputs_.push_back({});
    inputs_[inputs_used_++] = {&x, p};
    n.inputs++;
  }
  std::string describe_who(const Module<T>& m) const { return describe(m); }
  std::string describe_who(const char* op) const { return ember::detail::concat(op, " in ", root_name()); }
  std::string root_name() const;

  void add_grad(Node& n, const Tensor<T>& g);
  bool input_requires_grad(const Input& in) const {
    return in.producer == root_producer ? root_requires_grad_
           : in.producer >= 0          ? nodes_[static_cast<std::size_t>(in.producer)]->requires_grad
                                       : false;
  }
  void check_members(Module<T>& root);
  void route(const Input& in, const Tensor<T>& g);

  std::vector<std::unique_ptr<Node>> nodes_;  // by pointer: a node's address stays put as the list grows
  std::vector<Input> inputs_;
  std::vector<std::unique_ptr<Slot>> slots_;
  std::size_t nodes_used_ = 0, inputs_used_ = 0, slots_used_ = 0;
  Module<T>* root_ = nullptr;
  const Tensor<T>* root_input_ = nullptr;
  const Tensor<T>* root_output_ = nullptr;
  bool training_ = true;
  bool root_requires_grad_ = false;
  std::uint64_t step_ = 0;
  State state_ = State::empty;
  // The root's dx: one contribution by pointer, several summed.
  const Tensor<T>* root_grad_ = nullptr;
  int root_contributions_ = 0;
  Tensor<T> root_sum_;
  Tensor<T> empty_;
};

}  // namespace detail
}  // namespace ember::nn

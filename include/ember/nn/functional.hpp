// nn::functional: PyTorch's torch.nn.functional ops, for a model's forward():
//
//   namespace F = ember::nn::functional;
//   const auto& h = F::max_pool2d(F::relu(conv2(F::relu(conv1(x)))), 2);
//   return F::log_softmax(fc2(F::relu(fc1(F::flatten(h, 1)))), 1);
//
// Each op is recorded on the graph of the model whose forward calls it (the model called as
// model(x)), and its result lives in that graph until the model's next forward: the ops with a
// layer (relu, max_pool2d, log_softmax, ...) run that layer, kept by the graph from step to step,
// so their backward is the layer's own. add, cat and the views (reshape, view) are the graph's.
// Called outside a model's forward, an op is an ember::Error.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <functional>
#include <initializer_list>
#include <memory>
#include <string_view>

#include "ember/error.hpp"
#include "ember/nn/activation.hpp"
#include "ember/nn/avgpool2d.hpp"
#include "ember/nn/dropout.hpp"
#include "ember/nn/flatten.hpp"
#include "ember/nn/maxpool2d.hpp"
#include "ember/nn/module.hpp"
#include "ember/nn/relu.hpp"
#include "ember/nn/softmax.hpp"
#include "ember/tensor.hpp"

namespace ember::nn::functional {

namespace detail {

template <class T>
nn::detail::Graph<T>& graph_for(const char* op) {
  nn::detail::Graph<T>* g = nn::detail::recording_graph<T>();
  if (!g)
    throw Error(ember::detail::concat(
        "nn::functional::", op, ": called outside a model's forward. A functional op keeps its result in the graph "
        "of the model whose forward calls it: call the model as model(x) (model.forward(x) runs your forward without "
        "recording it), or use the layer (nn::ReLU, ...) outside a model"));
  return *g;
}

// Runs op's layer (made by make() when the slot at this position held another op) on x.
template <class L, class T, class Make>
const Tensor<T>& apply(const nn::detail::FnKey& key, const Tensor<T>& x, Make&& make) {
  auto& g = graph_for<T>(key.op);
  auto& slot = g.next_slot();
  if (!slot.layer || !(slot.key == key)) {  // key.op names the op, so the same key is the same layer type
    slot.layer = std::make_unique<L>(make());
    slot.key = key;
  }
  if (slot.layer->is_training() != g.training()) slot.layer->train(g.training());
  const Tensor<T>& y = slot.layer->forward(x);
  g.record_layer(*slot.layer, x, y, &slot);
  return y;
}

template <class T>
typename nn::detail::Graph<T>::Slot& op_slot(nn::detail::Graph<T>& g, const nn::detail::FnKey& key) {
  auto& slot = g.next_slot();
  if (!(slot.key == key) || slot.layer) {
    slot.layer.reset();
    slot.out = Tensor<T>();
    slot.key = key;
  }
  return slot;
}

inline int normalized_dim(int dim, int rank, const char* op) {
  const int d = dim < 0 ? dim + rank : dim;
  ember::detail::check(d >= 0 && d < rank, "nn::functional::", op, ": dim ", dim, " is out of range for a tensor of ",
                       rank, " dimensions");
  return d;
}

template <class T>
const Tensor<T>& view(const char* op, const Tensor<T>& x, const Shape& shape) {
  auto& g = graph_for<T>(op);
  auto& slot = op_slot(g, {.op = op});
  slot.out = x.reshape(shape);  // a read-only view of x: no copy
  auto& node = g.record_op(nn::detail::Graph<T>::Kind::view, slot, op);
  g.add_op_input(node, x);
  return slot.out;
}

template <class T>
const Tensor<T>& cat(std::initializer_list<std::reference_wrapper<const Tensor<T>>> xs, int dim) {
  ember::detail::check(xs.size() > 0, "nn::functional::cat: expected at least one tensor");
  const Tensor<T>& first = xs.begin()->get();
  const int r = first.dim();
  const int d = normalized_dim(dim, r, "cat");
  std::array<index_t, Shape::max_dims> dims{};
  std::copy(first.shape().begin(), first.shape().end(), dims.begin());
  dims[d] = 0;
  for (const Tensor<T>& x : xs) {
    bool fits = x.dim() == r;
    for (int k = 0; fits && k < r; ++k) fits = k == d || x.size(k) == first.size(k);
    ember::detail::check(fits, "nn::functional::cat: tensors of shapes ", first.shape(), " and ", x.shape(),
                         " cannot be joined along dim ", dim, " (all other dimensions must be equal)");
    dims[d] += x.size(d);
  }
  auto& g = graph_for<T>("cat");
  auto& slot = op_slot(g, {.op = "cat", .a = static_cast<double>(d)});
  slot.out.resize_uninitialized(Shape::from_range(dims.begin(), dims.begin() + r));
  index_t outer = 1, inner = 1;
  for (int k = 0; k < d; ++k) outer *= dims[k];
  for (int k = d + 1; k < r; ++k) inner *= dims[k];
  T* out = slot.out.data();
  const index_t row = dims[d] * inner;
  index_t offset = 0;
  for (const Tensor<T>& x : xs) {
    const index_t width = x.size(d) * inner;
    const T* in = x.data();
    for (index_t o = 0; o < outer; ++o) std::copy_n(in + o * width, width, out + o * row + offset);
    offset += width;
  }
  auto& node = g.record_op(nn::detail::Graph<T>::Kind::cat, slot, "cat");
  node.dim = d;
  for (const Tensor<T>& x : xs) g.add_op_input(node, x);
  return slot.out;
}

// The slot key of a pooling op: its kernel, stride, padding and options.
inline nn::detail::FnKey pool_key(const char* op, Size2 kernel, Size2 stride, Size2 padding, double options) {
  return {.op = op, .a = double(kernel.h), .b = double(kernel.w), .c = double(stride.h), .d = double(stride.w),
          .e = double(padding.h) + options, .f = double(padding.w)};
}

}  // namespace detail

template <class T>
const Tensor<T>& relu(const Tensor<T>& x) {
  return detail::apply<ReLU<T>>({.op = "relu"}, x, [] { return ReLU<T>(); });
}
template <class T>
const Tensor<T>& leaky_relu(const Tensor<T>& x, double negative_slope = 0.01) {
  return detail::apply<LeakyReLU<T>>({.op = "leaky_relu", .a = negative_slope}, x,
                                     [&] { return LeakyReLU<T>(negative_slope); });
}
template <class T>
const Tensor<T>& sigmoid(const Tensor<T>& x) {
  return detail::apply<Sigmoid<T>>({.op = "sigmoid"}, x, [] { return Sigmoid<T>(); });
}
template <class T>
const Tensor<T>& tanh(const Tensor<T>& x) {
  return detail::apply<Tanh<T>>({.op = "tanh"}, x, [] { return Tanh<T>(); });
}
// approximate: "none" (erf) or "tanh", as torch.nn.functional.gelu.
template <class T>
const Tensor<T>& gelu(const Tensor<T>& x, std::string_view approximate = "none") {
  return detail::apply<GELU<T>>({.op = "gelu", .a = approximate == "tanh" ? 1.0 : 0.0}, x,
                                [&] { return GELU<T>(approximate); });
}
template <class T>
const Tensor<T>& softmax(const Tensor<T>& x, int dim) {
  return detail::apply<Softmax<T>>({.op = "softmax", .a = static_cast<double>(dim)}, x, [&] { return Softmax<T>(dim); });
}
template <class T>
const Tensor<T>& log_softmax(const Tensor<T>& x, int dim) {
  return detail::apply<LogSoftmax<T>>({.op = "log_softmax", .a = static_cast<double>(dim)}, x,
                                      [&] { return LogSoftmax<T>(dim); });
}
// stride defaults to the kernel size, as torch's.
template <class T>
const Tensor<T>& max_pool2d(const Tensor<T>& x, Size2 kernel_size, std::optional<Size2> stride = std::nullopt,
                            Size2 padding = 0, const MaxPool2dOptions& options = {}) {
  const Size2 s = stride.value_or(kernel_size);
  return detail::apply<MaxPool2d<T>>(detail::pool_key("max_pool2d", kernel_size, s, padding, 0.5 * options.ceil_mode), x,
                                     [&] { return MaxPool2d<T>(kernel_size, s, padding, options); });
}
template <class T>
const Tensor<T>& avg_pool2d(const Tensor<T>& x, Size2 kernel_size, std::optional<Size2> stride = std::nullopt,
                            Size2 padding = 0, const AvgPool2dOptions& options = {}) {
  const Size2 s = stride.value_or(kernel_size);
  return detail::apply<AvgPool2d<T>>(
      detail::pool_key("avg_pool2d", kernel_size, s, padding, 0.5 * options.ceil_mode + 0.25 * options.count_include_pad),
      x, [&] { return AvgPool2d<T>(kernel_size, s, padding, options); });
}
// torch.flatten(x, start_dim, end_dim): a view, no copy.
template <class T>
const Tensor<T>& flatten(const Tensor<T>& x, int start_dim = 1, int end_dim = -1) {
  return detail::apply<Flatten<T>>({.op = "flatten", .a = double(start_dim), .b = double(end_dim)}, x,
                                   [&] { return Flatten<T>(start_dim, end_dim); });
}
// x.reshape(shape) / x.view(shape) on the graph: a view of x (no copy); one dimension may be -1.
template <class T>
const Tensor<T>& reshape(const Tensor<T>& x, std::initializer_list<index_t> shape) {
  std::array<index_t, Shape::max_dims> dims{};
  ember::detail::check(shape.size() <= dims.size(), "nn::functional::reshape: at most ", dims.size(),
                       " dimensions are supported");
  int infer = -1, r = 0;
  index_t known = 1;
  for (index_t d : shape) {
    if (d == -1) {
      ember::detail::check(infer < 0, "nn::functional::reshape: only one dimension may be -1");
      infer = r;
    } else {
      ember::detail::check(d >= 0, "nn::functional::reshape: dimension ", d, " is invalid");
      known *= d;
    }
    dims[r++] = d;
  }
  if (infer >= 0) {
    ember::detail::check(known > 0 && x.numel() % known == 0, "nn::functional::reshape: shape ", x.shape(),
                         " cannot be viewed with a -1 among dimensions of product ", known);
    dims[infer] = x.numel() / known;
  }
  const Shape s = Shape::from_range(dims.begin(), dims.begin() + r);
  ember::detail::check(s.numel() == x.numel(), "nn::functional::reshape: cannot view shape ", x.shape(), " as ", s);
  return detail::view("reshape", x, s);
}
template <class T>
const Tensor<T>& view(const Tensor<T>& x, std::initializer_list<index_t> shape) {
  return reshape(x, shape);
}
// a + b, of one shape (no broadcasting).
template <class T>
const Tensor<T>& add(const Tensor<T>& a, const Tensor<T>& b) {
  ember::detail::check(a.shape() == b.shape(), "nn::functional::add: shapes ", a.shape(), " and ", b.shape(),
                       " differ (add does not broadcast)");
  auto& g = detail::graph_for<T>("add");
  auto& slot = detail::op_slot(g, {.op = "add"});
  slot.out.resize_uninitialized(a.shape());
  slot.out.array() = a.array() + b.array();
  auto& node = g.record_op(nn::detail::Graph<T>::Kind::add, slot, "add");
  g.add_op_input(node, a);
  g.add_op_input(node, b);
  return slot.out;
}
// torch.cat(tensors, dim): F::cat({a, b}, 1).
inline const Tensor<float>& cat(std::initializer_list<std::reference_wrapper<const Tensor<float>>> xs, int dim = 0) {
  return detail::cat<float>(xs, dim);
}
inline const Tensor<double>& cat(std::initializer_list<std::reference_wrapper<const Tensor<double>>> xs, int dim = 0) {
  return detail::cat<double>(xs, dim);
}
// F.dropout(x, p, training): in training, a Dropout layer of the graph's (its generator drawn
// from ember's global one when the op first runs at this place in the forward); otherwise x.
template <class T>
const Tensor<T>& dropout(const Tensor<T>& x, double p = 0.5, bool training = true) {
  if (!training) return x;
  return detail::apply<Dropout<T>>({.op = "dropout", .a = p}, x, [&] { return Dropout<T>(p); });
}

}  // namespace ember::nn::functional

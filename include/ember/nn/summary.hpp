// nn::summary(model, input_shape): a model's layers, output shapes, parameter counts, multiply-adds
// and memory, printed as torchinfo's summary(model, input_size=...) prints them:
//
//   std::cout << nn::summary(model, {1, 1, 28, 28});
//
// The output shapes come from a forward of a zero input of `input_shape` (batch included) in
// eval mode; the model's train/eval mode is restored afterwards. The rows walk the model through
// visit_children(): Sequential lists its layers, a model of your own its members (EMBER_MODULE).
// Each child's input is the one it was given in the model's recorded forward (a child it never
// called shows "--"); a model of your own that records nothing (its own backward, its layers
// called by forward()) has its children run in the order listed, each on the previous one's
// output, and where that fails the shapes after it show "--". The counts follow torchinfo 1.8
// (torchinfo/layer_info.py, model_statistics.py):
//   - mult-adds of a layer: for each parameter named weight or bias, its numel times the output's
//     batch size, and for a Conv layer also times the output's spatial size (H_out * W_out);
//   - forward/backward pass size: the outputs of the leaf layers with parameters, twice (values
//     and gradients); params size: the parameters' bytes; MB are 10^6 bytes.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <ostream>
#include <sstream>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "ember/error.hpp"
#include "ember/nn/module.hpp"
#include "ember/nn/parameters.hpp"
#include "ember/tensor.hpp"

namespace ember::nn {

struct SummaryRow {
  std::string type;     // "Conv2d", "Sequential", "Net": the layer's repr up to '('
  int depth = 0;        // 0: the model itself
  int index = 0;        // 1-based position among its parent's children
  bool leaf = true;     // holds no children
  bool shape_known = false;
  Shape output;         // output: (N, ...) of one forward, when shape_known
  index_t params = 0;   // parameters of this layer and its children
  index_t own_params = 0;  // not held by a child: what the Param # column shows of a container
  std::int64_t mult_adds = 0;
};

struct Summary {
  std::vector<SummaryRow> rows;
  index_t total_params = 0, trainable_params = 0;
  std::int64_t mult_adds = 0;
  std::int64_t input_bytes = 0, forward_backward_bytes = 0, param_bytes = 0;
  std::int64_t total_bytes() const { return input_bytes + forward_backward_bytes + param_bytes; }
};

namespace detail {

template <class T>
class ChildList final : public ChildVisitor<T> {
 public:
  void child(std::string_view, Module<T>& layer) override { children.push_back(&layer); }
  std::vector<Module<T>*> children;
};

// The layer's repr up to its first '(' (the class name, as PyTorch's repr starts).
template <class M>
std::string type_name(const M& m) {
  if constexpr (requires(std::ostream& out) { out << m; }) {
    std::ostringstream s;
    s << m;
    std::string text = s.str();
    text = text.substr(0, text.find_first_of("(\n "));
    if (!text.empty()) return text;
  }
  return "Model";
}

template <class T, class M>
index_t parameter_count(M& m) {
  index_t n = 0;
  for_each_state<T>(m, [&](const Name&, Parameter<T>& p) { n += p.value.numel(); });
  return n;
}

// torchinfo's LayerInfo.calculate_macs for one leaf layer and its output shape.
template <class T, class M>
std::int64_t leaf_mult_adds(M& m, const std::string& type, const Shape& out) {
  std::int64_t batch = out.dim() > 0 ? out[0] : 1, spatial = 1;
  for (int d = 2; d < out.dim(); ++d) spatial *= out[d];
  const bool conv = type.find("Conv") != std::string::npos;
  std::int64_t macs = 0;
  for_each_state<T>(m, [&](const Name& n, Parameter<T>& p) {
    const std::string name = n.str();
    if (name == "weight" || name == "bias") macs += p.value.numel() * batch * (conv ? spatial : 1);
  });
  return macs;
}

// Appends the rows of m and its descendants. in: m's input, null when unknown. Returns m's output
// (a copy: a layer's output buffer is reused by its next forward), empty when unknown. The
// model itself (depth 0) lets its errors through: the input shape does not fit it.
template <class T, class M>
std::optional<Tensor<T>> walk(M& m, const Tensor<T>* in, int depth, int index, Summary& s) {
  const std::size_t at = s.rows.size();
  s.rows.push_back({});
  SummaryRow row;
  row.type = type_name(m);
  row.depth = depth;
  row.index = index;
  row.params = parameter_count<T>(m);
  ChildList<T> list;
  if constexpr (requires { m.visit_children(list); }) m.visit_children(list);
  row.leaf = list.children.empty();

  std::optional<Tensor<T>> out;
  if (in) {
    if (depth == 0) out.emplace(ember::nn::detail::call_forward(m, *in));
    else {
      try {
        out.emplace(ember::nn::detail::call_forward(m, *in));
      } catch (const Error&) {
      }
    }
  }
  // A model's recorded forward gives each child's input (the first call's); a model of your own
  // that records nothing has its children run in turn, each on the previous one's output.
  const Graph<T>* graph = nullptr;
  if constexpr (std::is_base_of_v<Module<T>, M>)
    if (out) graph = m.last_graph();
  std::optional<Tensor<T>> h;
  const Tensor<T>* h_in = in;
  index_t in_children = 0;
  for (std::size_t i = 0; i < list.children.size(); ++i) {
    const std::size_t child_row = s.rows.size();
    if (graph) h_in = graph->input_of(list.children[i]);
    auto next = walk<T>(*list.children[i], h_in, depth + 1, static_cast<int>(i) + 1, s);
    in_children += s.rows[child_row].params;
    h = std::move(next);
    h_in = h ? &*h : nullptr;
  }
  row.own_params = row.leaf ? row.params : std::max<index_t>(row.params - in_children, 0);
  if (out) {
    row.shape_known = true;
    row.output = out->shape();
    if (row.leaf) {
      row.mult_adds = leaf_mult_adds<T>(m, row.type, row.output);
      if (row.params > 0) s.forward_backward_bytes += 2 * out->numel() * static_cast<std::int64_t>(sizeof(T));
    }
  }
  s.mult_adds += row.mult_adds;
  s.rows[at] = std::move(row);
  return out;
}

// Pads to `width` display columns (the tree's box characters are one column, several bytes).
inline std::string pad(const std::string& text, std::size_t width) {
  std::size_t columns = 0;
  for (unsigned char c : text) columns += (c & 0xC0) != 0x80;
  return text + std::string(width > columns ? width - columns : 1, ' ');
}

inline std::string with_commas(std::int64_t n) {
  std::string digits = std::to_string(n), out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

inline std::string megabytes(std::int64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", static_cast<double>(bytes) / 1e6);
  return buf;
}

}  // namespace detail

// The summary of `model` on an input of `input_shape` (batch first, as torchinfo's input_size).
// `model`: an ember layer or model, or a struct of your own with forward() and visit_state()
// (and visit_children() to show its layers).
template <class Model>
Summary summary(Model& model, const Shape& input_shape) {
  using T = detail::scalar_t<Model>;
  bool was_training = true;
  if constexpr (requires { model.is_training(); }) was_training = model.is_training();
  if constexpr (requires { model.eval(); }) model.eval();
  Summary s;
  const Tensor<T> x(input_shape);  // zeros
  try {
    detail::walk<T>(model, &x, 0, 0, s);
  } catch (const Error& e) {
    if constexpr (requires { model.train(was_training); }) model.train(was_training);
    throw Error(ember::detail::concat("nn::summary: a forward of an input of shape ", input_shape,
                                      " failed: ", e.what()));
  }
  if constexpr (requires { model.train(was_training); }) model.train(was_training);
  s.total_params = s.trainable_params = s.rows.front().params;  // every ember parameter is trained
  s.input_bytes = x.numel() * static_cast<std::int64_t>(sizeof(T));
  s.param_bytes = s.total_params * static_cast<std::int64_t>(sizeof(T));
  return s;
}

// torchinfo's table: one row per layer (children indented under their parent), then the totals.
inline std::ostream& operator<<(std::ostream& out, const Summary& s) {
  std::vector<std::string> names;
  std::size_t name_width = 40;
  for (const auto& r : s.rows) {
    std::string name;
    if (r.depth == 1) name = "├─";
    else if (r.depth > 1) {
      for (int d = 1; d < r.depth; ++d) name += "│    ";
      name += "└─";
    }
    name += r.type;
    if (r.depth > 0) name += ": " + std::to_string(r.depth) + "-" + std::to_string(r.index);
    std::size_t columns = 0;
    for (unsigned char c : name) columns += (c & 0xC0) != 0x80;
    name_width = std::max(name_width, columns + 1);
    names.push_back(std::move(name));
  }
  const std::string rule(name_width + 50, '=');
  out << rule << "\n"
      << detail::pad("Layer (type:depth-idx)", name_width) << detail::pad("Output Shape", 25) << "Param #\n"
      << rule << "\n";
  for (std::size_t i = 0; i < s.rows.size(); ++i) {
    const SummaryRow& r = s.rows[i];
    std::string shape = "--";
    if (r.shape_known) {
      shape = "[";
      for (int d = 0; d < r.output.dim(); ++d) shape += (d ? ", " : "") + std::to_string(r.output[d]);
      shape += "]";
    }
    out << detail::pad(names[i], name_width) << detail::pad(shape, 25)
        << (r.own_params > 0 ? detail::with_commas(r.own_params) : "--") << "\n";
  }
  char macs[32];
  std::snprintf(macs, sizeof macs, "%.2f", static_cast<double>(s.mult_adds) / 1e6);
  out << rule << "\n"
      << "Total params: " << detail::with_commas(s.total_params) << "\n"
      << "Trainable params: " << detail::with_commas(s.trainable_params) << "\n"
      << "Non-trainable params: " << detail::with_commas(s.total_params - s.trainable_params) << "\n"
      << "Total mult-adds (M): " << macs << "\n"
      << rule << "\n"
      << "Input size (MB): " << detail::megabytes(s.input_bytes) << "\n"
      << "Forward/backward pass size (MB): " << detail::megabytes(s.forward_backward_bytes) << "\n"
      << "Params size (MB): " << detail::megabytes(s.param_bytes) << "\n"
      << "Estimated Total Size (MB): " << detail::megabytes(s.total_bytes()) << "\n"
      << rule << "\n";
  return out;
}

}  // namespace ember::nn

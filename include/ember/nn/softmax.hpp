// nn::Softmax(dim = 1) and nn::LogSoftmax(dim = 1), as torch.nn.Softmax / torch.nn.LogSoftmax:
// along one dimension (negative dims count from the end, as in torch), numerically stable at
// any input size (the maximum along the dimension is subtracted before exp).
#pragma once

#include <algorithm>
#include <cmath>
#include <ostream>

#include "ember/error.hpp"
#include "ember/nn/module.hpp"
#include "ember/tensor.hpp"
#include "ember/threads.hpp"

namespace ember::nn {
namespace detail {

// x seen as (outer, size, inner) around dimension `dim`: elements of one slice along dim are
// `inner` apart.
struct SoftmaxGeometry {
  index_t outer, size, inner;
};

template <class L>
SoftmaxGeometry softmax_geometry(const L& layer, const Shape& x, int dim) {
  const int rank = x.dim();
  ember::detail::check(rank >= 1 && dim >= -rank && dim < rank, layer, ": dim ", dim, " is out of range for input ", x,
                       " (expected a dim in [", -std::max(rank, 1), ", ", std::max(rank, 1) - 1, "])");
  const int d = dim < 0 ? dim + rank : dim;
  SoftmaxGeometry g{1, x[d], 1};
  for (int i = 0; i < d; ++i) g.outer *= x[i];
  for (int i = d + 1; i < rank; ++i) g.inner *= x[i];
  return g;
}

// y = softmax (log_softmax when `log`) of x along the slices of g.
template <bool log, class T>
void softmax_forward(const T* x, T* y, const SoftmaxGeometry& g) {
  const index_t slices = g.outer * g.inner;
  ember::detail::parallel_for(slices, slices * g.size > (1 << 15), [&](index_t s_begin, index_t s_end) {
    for (index_t s = s_begin; s < s_end; ++s) {
      const index_t o = s / g.inner, i = s % g.inner;
      const T* in = x + o * g.size * g.inner + i;
      T* out = y + o * g.size * g.inner + i;
      T m = in[0];
      for (index_t k = 1; k < g.size; ++k) m = std::max(m, in[k * g.inner]);
      T sum = 0;
      for (index_t k = 0; k < g.size; ++k) {
        const T e = std::exp(in[k * g.inner] - m);
        sum += e;
        if constexpr (!log) out[k * g.inner] = e;
      }
      if constexpr (log) {
        const T shift = m + std::log(sum);  // log_softmax = x - max - log(sum exp(x - max))
        for (index_t k = 0; k < g.size; ++k) out[k * g.inner] = in[k * g.inner] - shift;
      } else {
        const T inv = T(1) / sum;
        for (index_t k = 0; k < g.size; ++k) out[k * g.inner] *= inv;
      }
    }
  });
}

// From y and dy along the slices of g:
//   softmax:     dx = y * (dy - sum(dy * y))
//   log_softmax: dx = dy - exp(y) * sum(dy)
template <bool log, class T>
void softmax_backward(const T* y, const T* dy, T* dx, const SoftmaxGeometry& g) {
  const index_t slices = g.outer * g.inner;
  ember::detail::parallel_for(slices, slices * g.size > (1 << 15), [&](index_t s_begin, index_t s_end) {
    for (index_t s = s_begin; s < s_end; ++s) {
      const index_t base = (s / g.inner) * g.size * g.inner + s % g.inner;
      T sum = 0;
      for (index_t k = 0; k < g.size; ++k) {
        const index_t at = base + k * g.inner;
        sum += log ? dy[at] : dy[at] * y[at];
      }
      for (index_t k = 0; k < g.size; ++k) {
        const index_t at = base + k * g.inner;
        dx[at] = log ? dy[at] - std::exp(y[at]) * sum : y[at] * (dy[at] - sum);
      }
    }
  });
}

// Softmax and LogSoftmax: the same layer but for the function and its name.
template <class T, bool log>
class SoftmaxFamily : public Module<T> {
 public:
  // Each call keeps its own saved state (detail::Tape): one object may be used several times.
  bool keeps_each_use() const override { return true; }
  explicit SoftmaxFamily(int dim) : dim_(dim) {}

  // x: any shape -> y: x's shape. backward() reads y only, so nothing else is kept.
  const Tensor<T>& forward(const Tensor<T>& x) override {
    const SoftmaxGeometry g = softmax_geometry(*this, x.shape(), dim_);
    Saved& saved = tape_.record(this->training_, &x);
    saved.y.resize_uninitialized(x.shape());
    softmax_forward<log>(x.data(), saved.y.data(), g);
    return saved.y;
  }

  const Tensor<T>& backward(const Tensor<T>& dy) override {
    Saved& saved = tape_.pop(*this);
    const Tensor<T>& y = saved.y;
    ember::detail::check(dy.shape() == y.shape(), *this, ": expected dy of shape ", y.shape(), " (the output's), got ",
                         dy.shape());
    saved.dx.resize_uninitialized(dy.shape());
    softmax_backward<log>(y.data(), dy.data(), saved.dx.data(), softmax_geometry(*this, y.shape(), dim_));
    return saved.dx;
  }

  int dim() const { return dim_; }

  void print(std::ostream& out, int = 0) const override {
    out << (log ? "LogSoftmax" : "Softmax") << "(dim=" << dim_ << ")";
  }

 private:
  int dim_;
  struct Saved {   // one use of the layer; both of x's shape
    Tensor<T> y;
    Tensor<T> dx;  // its own per use: a use's dy may be another's dx
  };
  Tape<Saved> tape_;
};

}  // namespace detail

// y = exp(x) / sum(exp(x)) along dim.
template <class T = float>
class Softmax : public detail::SoftmaxFamily<T, false> {
 public:
  explicit Softmax(int dim = 1) : detail::SoftmaxFamily<T, false>(dim) {}
};

// y = x - log(sum(exp(x))) along dim; with nn::NLLLoss, the same loss as nn::CrossEntropyLoss.
template <class T = float>
class LogSoftmax : public detail::SoftmaxFamily<T, true> {
 public:
  explicit LogSoftmax(int dim = 1) : detail::SoftmaxFamily<T, true>(dim) {}
};

static_assert(Layer<Softmax<float>>);
static_assert(Layer<LogSoftmax<float>>);

}  // namespace ember::nn

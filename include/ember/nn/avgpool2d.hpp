// The average poolings, as torch.nn's:
//   nn::AvgPool2d(kernel_size, stride = kernel_size, padding = 0, {.ceil_mode = false,
//                 .count_include_pad = true})
//   nn::AdaptiveAvgPool2d(output_size)   (an int or {h, w}; torch's overlapping bins)
// Neither keeps x: backward spreads dy over the windows, which depend on the shapes alone.
#pragma once

#include <optional>
#include <ostream>

#include "ember/error.hpp"
#include "ember/kernels/pool.hpp"
#include "ember/kernels/shape.hpp"
#include "ember/nn/conv2d.hpp"  // Size2
#include "ember/nn/module.hpp"
#include "ember/tensor.hpp"
#include "ember/threads.hpp"

namespace ember::nn {
namespace detail {

// What the two layers share: one plane at a time, forward and backward, from a geometry that
// Derived::geometry_of(x shape) gives.
template <class T, class Derived>
class AvgPoolBase : public Module<T> {
 public:
  // Each call keeps its own saved state (detail::Tape): one object may be used several times.
  bool keeps_each_use() const override { return true; }
  // x: (N, C, H, W) -> y: (N, C, OH, OW)
  const Tensor<T>& forward(const Tensor<T>& x) override {
    const kernels::PoolGeometry g = self().geometry_of(x.shape());
    Saved& saved = tape_.record(this->training_, &x);
    // x may be the buffer this forward() writes (the layer applied to its own output in eval mode,
    // where every use writes one slot): then pool a copy of it.
    const Tensor<T>& input = &x == &saved.y ? (input_copy_ = x) : x;
    saved.g = g;
    saved.x_shape = x.shape();
    saved.y.resize_uninitialized({x.size(0), x.size(1), g.oh, g.ow});
    const index_t in_plane = g.h * g.w, out_plane = g.oh * g.ow;
    const T* in = input.data();
    T* out = saved.y.data();
    ember::detail::parallel_for(g.planes, g.planes * in_plane > (1 << 15), [&](index_t p_begin, index_t p_end) {
      for (index_t p = p_begin; p < p_end; ++p) self().plane_forward(in + p * in_plane, out + p * out_plane, g);
    });
    return saved.y;
  }

  // dx: (N, C, H, W), each window's dy / its divisor summed where windows overlap
  const Tensor<T>& backward(const Tensor<T>& dy) override {
    Saved& saved = tape_.pop(*this);
    ember::detail::check(dy.shape() == saved.y.shape(), *this, ": expected dy of shape ", saved.y.shape(),
                         " (the output's), got ", dy.shape());
    const kernels::PoolGeometry& g = saved.g;
    saved.dx.resize_uninitialized(saved.x_shape);
    const index_t in_plane = g.h * g.w, out_plane = g.oh * g.ow;
    const T* in = dy.data();
    T* out = saved.dx.data();
    ember::detail::parallel_for(g.planes, g.planes * in_plane > (1 << 15), [&](index_t p_begin, index_t p_end) {
      for (index_t p = p_begin; p < p_end; ++p) self().plane_backward(in + p * out_plane, out + p * in_plane, g);
    });
    return saved.dx;
  }

  Shape output_shape(const Shape& x) const {
    const auto g = self().geometry_of(x);
    return {x[0], x[1], g.oh, g.ow};
  }

 protected:
  void check_input(const Shape& x) const {
    ember::detail::check(x.dim() == 4, self(), ": expected input of shape (N, C, H, W), got ", x);
  }

 private:
  const Derived& self() const { return static_cast<const Derived&>(*this); }
  struct Saved {                  // one use of the layer
    kernels::PoolGeometry g{};
    Shape x_shape;
    Tensor<T> y;                  // y: (N, C, OH, OW)
    Tensor<T> dx;                 // dx: (N, C, H, W), its own per use (a use's dy may be another's dx)
  };
  Tape<Saved> tape_;
  Tensor<T> input_copy_;          // x: (N, C, H, W), when x is the y being written
};

}  // namespace detail

struct AvgPool2dOptions {
  bool ceil_mode = false;          // output size rounded up (the last window may hang over the input)
  bool count_include_pad = true;   // the divisor counts the zero padding in the window
};

template <class T = float>
class AvgPool2d : public detail::AvgPoolBase<T, AvgPool2d<T>> {
 public:
  explicit AvgPool2d(Size2 kernel_size, std::optional<Size2> stride = std::nullopt, Size2 padding = 0,
                     const AvgPool2dOptions& options = {})
      : kernel_(kernel_size), stride_(stride.value_or(kernel_size)), padding_(padding), options_(options) {
    ember::detail::check(kernel_.h > 0 && kernel_.w > 0 && stride_.h > 0 && stride_.w > 0, *this,
                         ": kernel size and stride must be positive");
    ember::detail::check(padding_.h >= 0 && padding_.w >= 0 && 2 * padding_.h <= kernel_.h && 2 * padding_.w <= kernel_.w,
                         *this, ": padding must be between 0 and half the kernel size");
  }

  // OH = floor((H + 2 p - k) / s) + 1, or as MaxPool2d's ceil mode.
  kernels::PoolGeometry geometry_of(const Shape& x) const {
    this->check_input(x);
    kernels::PoolGeometry g{x[0] * x[1], x[2], x[3], kernel_.h, kernel_.w, stride_.h, stride_.w, padding_.h, padding_.w, 0, 0};
    g.oh = kernels::pool_output_size(g.h, g.kh, g.sh, g.ph, options_.ceil_mode);
    g.ow = kernels::pool_output_size(g.w, g.kw, g.sw, g.pw, options_.ceil_mode);
    // At least one window: in floor mode the kernel fits the padded input; in ceil mode a window
    // starts in it (the kernel may hang over it, as in torch).
    ember::detail::check(g.oh >= 1 && g.ow >= 1, *this, ": the window ", kernel_, " does not fit the input ", x,
                         " (padding ", padding_, ")");
    return g;
  }
  void plane_forward(const T* x, T* y, const kernels::PoolGeometry& g) const {
    kernels::avgpool_plane(x, y, g, options_.count_include_pad);
  }
  void plane_backward(const T* dy, T* dx, const kernels::PoolGeometry& g) const {
    kernels::avgpool_plane_backward(dy, dx, g, options_.count_include_pad);
  }

  void print(std::ostream& out, int = 0) const override {
    out << "AvgPool2d(kernel_size=" << kernel_.as_given() << ", stride=" << stride_.as_given()
        << ", padding=" << padding_.as_given() << ")";
  }

 private:
  Size2 kernel_, stride_, padding_;
  AvgPool2dOptions options_;
};

template <class T = float>
class AdaptiveAvgPool2d : public detail::AvgPoolBase<T, AdaptiveAvgPool2d<T>> {
 public:
  explicit AdaptiveAvgPool2d(Size2 output_size) : output_(output_size) {
    ember::detail::check(output_.h > 0 && output_.w > 0, *this, ": output size must be positive");
  }

  kernels::PoolGeometry geometry_of(const Shape& x) const {
    this->check_input(x);
    ember::detail::check(x[2] > 0 && x[3] > 0, *this, ": expected a non-empty input, got ", x);
    return {x[0] * x[1], x[2], x[3], 0, 0, 0, 0, 0, 0, output_.h, output_.w};
  }
  void plane_forward(const T* x, T* y, const kernels::PoolGeometry& g) const { kernels::adaptive_avgpool_plane(x, y, g); }
  void plane_backward(const T* dy, T* dx, const kernels::PoolGeometry& g) const {
    kernels::adaptive_avgpool_plane_backward(dy, dx, g);
  }

  void print(std::ostream& out, int = 0) const override { out << "AdaptiveAvgPool2d(output_size=" << output_.as_given() << ")"; }

 private:
  Size2 output_;
};

static_assert(Layer<AvgPool2d<float>>);
static_assert(Layer<AdaptiveAvgPool2d<float>>);

}  // namespace ember::nn

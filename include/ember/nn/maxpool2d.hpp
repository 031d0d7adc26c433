// nn::MaxPool2d(kernel_size, stride = kernel_size, padding = 0, {.ceil_mode = false}), as
// torch.nn.MaxPool2d (dilation 1). forward() keeps the argmax of every window; backward() routes
// dy there. Ties go to the first maximum in the window (row-major), as in PyTorch.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <ostream>
#include <optional>

#include "ember/kernels/pool.hpp"
#include "ember/kernels/shape.hpp"
#include "ember/error.hpp"
#include "ember/nn/conv2d.hpp"  // Size2
#include "ember/nn/module.hpp"
#include "ember/tensor.hpp"
#include "ember/threads.hpp"

namespace ember::nn {

struct MaxPool2dOptions {
  bool ceil_mode = false;  // output size rounded up (the last window may hang over the input)
};

template <class T = float>
class MaxPool2d : public Module<T> {
 public:
  // Each call keeps its own saved state (detail::Tape): one object may be used several times.
  bool keeps_each_use() const override { return true; }
  explicit MaxPool2d(Size2 kernel_size, std::optional<Size2> stride = std::nullopt, Size2 padding = 0,
                     const MaxPool2dOptions& options = {})
      : kernel_(kernel_size), stride_(stride.value_or(kernel_size)), padding_(padding), options_(options) {
    ember::detail::check(kernel_.h > 0 && kernel_.w > 0 && stride_.h > 0 && stride_.w > 0, *this,
                         ": kernel size and stride must be positive");
    ember::detail::check(padding_.h >= 0 && padding_.w >= 0 && 2 * padding_.h <= kernel_.h && 2 * padding_.w <= kernel_.w,
                         *this, ": padding must be between 0 and half the kernel size");
  }

  // x: (N, C, H, W) -> y: (N, C, OH, OW), OH = floor((H + 2 p - k) / s) + 1 (ceil in ceil mode,
  // less a last window that would start in the right padding).
  const Tensor<T>& forward(const Tensor<T>& x) override {
    const kernels::PoolGeometry geo = geometry_of(x.shape());
    Saved& saved = tape_.record(this->training_, &x);
    // x may be the buffer this forward() writes (the layer applied to its own output in eval mode,
    // where every use writes one slot): then pool a copy of it.
    const Tensor<T>& input = &x == &saved.y ? (input_copy_ = x) : x;
    saved.g = geo;
    Tensor<T>& y = saved.y;
    Tensor<std::int32_t>& argmax = saved.argmax;
    ember::detail::check(x.numel() < (index_t{1} << 31), *this, ": inputs of 2^31 elements or more are not supported, got ",
                         x.shape());
    const index_t planes = geo.planes, in_plane = geo.h * geo.w, out_plane = geo.oh * geo.ow;
    y.resize_uninitialized({input.size(0), input.size(1), geo.oh, geo.ow});
    argmax.resize_uninitialized(y.shape());
    saved.x_shape = input.shape();
    T* const y_data = y.data();
    std::int32_t* const argmax_data = argmax.data();
    const bool k2s2_even = geo.kh == 2 && geo.kw == 2 && geo.sh == 2 && geo.sw == 2 && geo.ph == 0 && geo.pw == 0 &&
                           geo.h % 2 == 0 && geo.w % 2 == 0 && geo.oh * 2 == geo.h && geo.ow * 2 == geo.w;
    if (k2s2_even) {
      const index_t rows = planes * geo.oh, scratch = rows * geo.w;  // = N*C*H*OW
      vmax_.resize_uninitialized({2, scratch + kernels::simd::lanes<T>});
      voff_.resize_uninitialized({2, scratch + kernels::simd::lanes<std::int32_t>});
      if (geo.w <= kernels::simd::lanes<T>) {
        T* v = vmax_.data() + vmax_.size(1);
        std::int32_t* vo = voff_.data() + voff_.size(1);
        kernels::maxpool_2x2_narrow(input.data(), y_data, argmax_data, vmax_.data(), voff_.data(), v, vo, rows, geo.w);
      } else {
        kernels::maxpool_2x2_even(input.data(), y_data, argmax_data, vmax_.data(), voff_.data(), rows, geo.w);
      }
    } else {
      ember::detail::parallel_for(planes, planes * in_plane > (1 << 15), [&](index_t p_begin, index_t p_end) {
        for (index_t p = p_begin; p < p_end; ++p)
          kernels::maxpool_plane(input.data() + p * in_plane, y_data + p * out_plane, argmax_data + p * out_plane, geo,
                                p * in_plane);
      });
    }
    return y;
  }

  // dx: (N, C, H, W), zero but at each window's argmax, where dy is added.
  const Tensor<T>& backward(const Tensor<T>& dy) override {
    Saved& saved = tape_.pop(*this);
    ember::detail::check(dy.shape() == saved.y.shape(), *this, ": expected dy of shape ", saved.y.shape(),
                         " (the output's), got ", dy.shape());
    const kernels::PoolGeometry& geo = saved.g;
    saved.dx.resize_uninitialized(saved.x_shape);
    T* const dx = saved.dx.data();
    const index_t in_plane = geo.h * geo.w, out_plane = geo.oh * geo.ow;
    ember::detail::parallel_for(geo.planes, geo.planes * in_plane > (1 << 15), [&](index_t p_begin, index_t p_end) {
      for (index_t p = p_begin; p < p_end; ++p) {  // a plane's windows touch only that plane: no races
        std::fill_n(dx + p * in_plane, in_plane, T(0));
        const T* g = dy.data() + p * out_plane;
        const std::int32_t* at = std::as_const(saved.argmax).data() + p * out_plane;
        for (index_t i = 0; i < out_plane; ++i) dx[at[i]] += g[i];
      }
    });
    return saved.dx;
  }

  Shape output_shape(const Shape& x) const {
    const auto g = geometry_of(x);
    return {x[0], x[1], g.oh, g.ow};
  }

  void print(std::ostream& out, int = 0) const override {
    out << "MaxPool2d(kernel_size=" << kernel_.as_given() << ", stride=" << stride_.as_given()
        << ", padding=" << padding_.as_given()
        << ", dilation=1, ceil_mode=" << (options_.ceil_mode ? "True" : "False") << ")";
  }

 private:
  kernels::PoolGeometry geometry_of(const Shape& x) const {
    ember::detail::check(x.dim() == 4, *this, ": expected input of shape (N, C, H, W), got ", x);
    kernels::PoolGeometry g{x[0] * x[1], x[2], x[3], kernel_.h, kernel_.w, stride_.h, stride_.w, padding_.h, padding_.w, 0, 0};
    g.oh = kernels::pool_output_size(g.h, g.kh, g.sh, g.ph, options_.ceil_mode);
    g.ow = kernels::pool_output_size(g.w, g.kw, g.sw, g.pw, options_.ceil_mode);
    // At least one window: in floor mode the kernel fits the padded input; in ceil mode a window
    // starts in it (the kernel may hang over it, as in torch).
    ember::detail::check(g.oh >= 1 && g.ow >= 1, *this, ": the window ", kernel_, " does not fit the input ", x,
                         " (padding ", padding_, ")");
    return g;
  }

  Size2 kernel_, stride_, padding_;
  MaxPool2dOptions options_;
  struct Saved {                    // one use of the layer
    kernels::PoolGeometry g{};
    Shape x_shape;
    Tensor<T> y;                    // y: (N, C, OH, OW)
    Tensor<std::int32_t> argmax;    // argmax: (N, C, OH, OW), offsets in x
    Tensor<T> dx;                   // dx: (N, C, H, W), its own per use (a use's dy may be another's dx)
  };
  detail::Tape<Saved> tape_;
  Tensor<T> vmax_;                 // (2, N*C*OH*W + a packet), scratch of the 2x2 kernels
  Tensor<std::int32_t> voff_;      // (2, N*C*OH*W + a packet), offsets in x of their winners
  Tensor<T> input_copy_;           // x: (N, C, H, W), when x is the y being written
};

static_assert(Layer<MaxPool2d<float>>);

namespace reference {

// max over every window, by the definition; returns y (ties and NaN as PyTorch).
template <class T>
Tensor<T> maxpool2d_forward(const Tensor<T>& x, Size2 k, Size2 s, Size2 p, Tensor<T>* dx = nullptr,
                            const Tensor<T>* dy = nullptr, bool ceil_mode = false) {
  const index_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  const index_t OH = kernels::pool_output_size(H, k.h, s.h, p.h, ceil_mode),
                OW = kernels::pool_output_size(W, k.w, s.w, p.w, ceil_mode);
  Tensor<T> y({N, C, OH, OW});
  if (dx) dx->resize(x.shape());
  for (index_t n = 0; n < N; ++n)
    for (index_t c = 0; c < C; ++c)
      for (index_t i = 0; i < OH; ++i)
        for (index_t j = 0; j < OW; ++j) {
          T best = -std::numeric_limits<T>::infinity();
          index_t by = -1, bx = -1;
          for (index_t u = 0; u < k.h; ++u)
            for (index_t v = 0; v < k.w; ++v) {
              const index_t yy = i * s.h - p.h + u, xx = j * s.w - p.w + v;
              if (yy < 0 || yy >= H || xx < 0 || xx >= W) continue;
              const T value = x(n, c, yy, xx);
              const bool first_nan = std::isnan(value) && !std::isnan(best);  // PyTorch: a NaN is the maximum
              if (by < 0 || value > best || first_nan) best = value, by = yy, bx = xx;
            }
          y(n, c, i, j) = best;
          if (dx) (*dx)(n, c, by, bx) += (*dy)(n, c, i, j);  // backward: dy goes to the first maximum
        }
  return y;
}

}  // namespace reference
}  // namespace ember::nn

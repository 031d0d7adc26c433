// nn::MaxPool2d(kernel_size, stride = kernel_size, padding = 0), as torch.nn.MaxPool2d
// (dilation 1, floor mode). forward() keeps the argmax of every window; backward() routes dy
// there. Ties go to the first maximum in the window (row-major), as in PyTorch.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <ostream>
#include <optional>

#include "ember/detail/simd.hpp"
#include "ember/error.hpp"
#include "ember/nn/conv2d.hpp"  // Size2
#include "ember/nn/module.hpp"
#include "ember/tensor.hpp"

namespace ember::nn {

namespace detail {

struct PoolGeometry {
  index_t planes, h, w;  // input (N*C planes of H x W)
  index_t kh, kw, sh, sw, ph, pw;
  index_t oh, ow;
};

// True when v replaces the current maximum cur: strictly greater (so the first maximum wins), or
// the first NaN (PyTorch propagates NaN).
template <class T>
inline bool replaces(T v, T cur) {
  return (v > cur) | ((v != v) & (cur == cur));
}

// The seed CNN's case, 2x2 windows with stride 2 and no padding over planes of even height and
// width, for `rows` output rows of all planes at once (output row r reads input rows 2r, 2r+1).
// Two long loops that vectorise, instead of one per 13-wide output row:
//   1. vertical: for each column, the larger of rows 2r and 2r + 1 (upper wins a tie), and the
//      winner's offset in x;
//   2. horizontal: for each pair of columns, the larger; on a tie the one earlier in row-major
//      order (the smaller offset), so the result is the first maximum of the window, as
//      PyTorch's scan finds it.
// vmax, voff: (rows, W) scratch. argmax gets offsets in x.
template <class T>
void maxpool_2x2_even(const T* x, T* y, std::int32_t* argmax, T* vmax, std::int32_t* voff, index_t rows, index_t w) {
#pragma omp parallel for schedule(static) if (rows * w > (1 << 15))
  for (index_t r = 0; r < rows; ++r) {
    const T* upper = x + 2 * r * w;
    const T* lower = upper + w;
    T* vm = vmax + r * w;
    std::int32_t* vo = voff + r * w;
    const auto upper_offset = static_cast<std::int32_t>(2 * r * w), wi = static_cast<std::int32_t>(w);
#pragma omp simd
    for (index_t c = 0; c < w; ++c) {
      const bool low = replaces(lower[c], upper[c]);
      vm[c] = low ? lower[c] : upper[c];
      vo[c] = upper_offset + static_cast<std::int32_t>(c) + (low ? wi : 0);
    }
  }
  const index_t n = rows * (w / 2);
#pragma omp parallel for simd schedule(static) if (n > (1 << 15))
  for (index_t k = 0; k < n; ++k) {
    const T left = vmax[2 * k], right = vmax[2 * k + 1];
    const std::int32_t lo = voff[2 * k], ro = voff[2 * k + 1];
    const bool take_right = replaces(right, left) | ((right == left) & (ro < lo));
    y[k] = take_right ? right : left;
    argmax[k] = take_right ? ro : lo;
  }
}

// The same for planes at most a packet wide (LeNet's second pool: 10), where a loop over one
// row is all remainder and runs scalar. Three passes that each run over the whole tensor:
//   1. horizontal over every input row: h[q] = the first maximum of x[2q], x[2q + 1];
//   2. vertical over every pair of consecutive h rows: v[q] = h[q], or h[q + OW] when strictly
//      greater (or the first NaN), so the upper row wins a tie and the window's first maximum in
//      row-major order wins overall. Only the pairs that start on an even row are windows;
//   3. copy those rows of v (and their offsets) to y and argmax.
// h, hoff, v, voff: N*C*H*OW scratch each.
template <class T>
void maxpool_2x2_narrow(const T* x, T* y, std::int32_t* argmax, T* h, std::int32_t* hoff, T* v, std::int32_t* voff,
                        index_t rows, index_t w) {
  namespace simd = ember::detail::simd;
  const index_t ow = w / 2, half = 2 * rows * ow;
#pragma omp parallel for simd schedule(static) if (half > (1 << 15))
  for (index_t q = 0; q < half; ++q) {
    const T left = x[2 * q], right = x[2 * q + 1];
    const bool take_right = replaces(right, left);
    h[q] = take_right ? right : left;
    hoff[q] = static_cast<std::int32_t>(2 * q) + (take_right ? 1 : 0);
  }
  const index_t pairs = half - ow;
#pragma omp parallel for simd schedule(static) if (pairs > (1 << 15))
  for (index_t q = 0; q < pairs; ++q) {
    const T upper = h[q], lower = h[q + ow];
    const bool take_lower = replaces(lower, upper);
    v[q] = take_lower ? lower : upper;
    voff[q] = take_lower ? hoff[q + ow] : hoff[q];
  }
  simd::copy_runs(v, 2 * ow, y, ow, rows);
  simd::copy_runs(voff, 2 * ow, argmax, ow, rows);
}

// Any window, one plane: y[i, j] = max over the window, argmax[i, j] = its offset in x (the
// plane starts at x + plane_offset).
template <class T>
void maxpool_plane(const T* x, T* y, std::int32_t* argmax, const PoolGeometry& g, index_t plane_offset) {
  for (index_t i = 0; i < g.oh; ++i) {
    const index_t y0 = i * g.sh - g.ph;
    const index_t ys = std::max<index_t>(y0, 0), ye = std::min(y0 + g.kh, g.h);
    for (index_t j = 0; j < g.ow; ++j) {
      const index_t x0 = j * g.sw - g.pw;
      const index_t xs = std::max<index_t>(x0, 0), xe = std::min(x0 + g.kw, g.w);
      T best = -std::numeric_limits<T>::infinity();
      index_t at = ys * g.w + xs;
      for (index_t yy = ys; yy < ye; ++yy)
        for (index_t xx = xs; xx < xe; ++xx) {
          const T v = x[yy * g.w + xx];
          if (replaces(v, best)) {
            best = v;
            at = yy * g.w + xx;
          }
        }
      y[i * g.ow + j] = best;
      argmax[i * g.ow + j] = static_cast<std::int32_t>(plane_offset + at);
    }
  }
}

}  // namespace detail

template <class T = float>
class MaxPool2d : public Module<T> {
 public:
  explicit MaxPool2d(Size2 kernel_size, std::optional<Size2> stride = std::nullopt, Size2 padding = 0)
      : kernel_(kernel_size), stride_(stride.value_or(kernel_size)), padding_(padding) {
    ember::detail::check(kernel_.h > 0 && kernel_.w > 0 && stride_.h > 0 && stride_.w > 0, *this,
                         ": kernel size and stride must be positive");
    ember::detail::check(padding_.h >= 0 && padding_.w >= 0 && 2 * padding_.h <= kernel_.h && 2 * padding_.w <= kernel_.w,
                         *this, ": padding must be between 0 and half the kernel size");
  }

  // x: (N, C, H, W) -> y: (N, C, OH, OW), OH = floor((H + 2 p - k) / s) + 1.
  const Tensor<T>& forward(const Tensor<T>& x) override {
    const detail::PoolGeometry geo = geometry_of(x.shape());
    Saved& saved = tape_.record(this->training_);
    saved.g = geo;
    Tensor<T>& y = saved.y;
    Tensor<std::int32_t>& argmax = saved.argmax;
    ember::detail::check(x.numel() < (index_t{1} << 31), *this, ": inputs of 2^31 elements or more are not supported, got ",
                         x.shape());
    const index_t planes = geo.planes, in_plane = geo.h * geo.w, out_plane = geo.oh * geo.ow;
    y.resize_uninitialized({x.size(0), x.size(1), geo.oh, geo.ow});
    argmax.resize_uninitialized(y.shape());
    saved.x_shape = x.shape();
    T* const y_data = y.data();
    std::int32_t* const argmax_data = argmax.data();
    const bool k2s2_even = geo.kh == 2 && geo.kw == 2 && geo.sh == 2 && geo.sw == 2 && geo.ph == 0 && geo.pw == 0 &&
                           geo.h % 2 == 0 && geo.w % 2 == 0;
    if (k2s2_even) {
      const index_t rows = planes * geo.oh, scratch = rows * geo.w;  // = N*C*H*OW
      vmax_.resize_uninitialized({2, scratch + ember::detail::simd::lanes<T>});
      voff_.resize_uninitialized({2, scratch + ember::detail::simd::lanes<std::int32_t>});
      if (geo.w <= ember::detail::simd::lanes<T>) {
        T* v = vmax_.data() + vmax_.size(1);
        std::int32_t* vo = voff_.data() + voff_.size(1);
        detail::maxpool_2x2_narrow(x.data(), y_data, argmax_data, vmax_.data(), voff_.data(), v, vo, rows, geo.w);
      } else {
        detail::maxpool_2x2_even(x.data(), y_data, argmax_data, vmax_.data(), voff_.data(), rows, geo.w);
      }
    } else {
#pragma omp parallel for schedule(static) if (planes * in_plane > (1 << 15))
      for (index_t p = 0; p < planes; ++p)
        detail::maxpool_plane(x.data() + p * in_plane, y_data + p * out_plane, argmax_data + p * out_plane, geo,
                              p * in_plane);
    }
    return y;
  }

  // dx: (N, C, H, W), zero but at each window's argmax, where dy is added.
  const Tensor<T>& backward(const Tensor<T>& dy) override {
    Saved& saved = tape_.pop(*this);
    ember::detail::check(dy.shape() == saved.y.shape(), *this, ": expected dy of shape ", saved.y.shape(),
                         " (the output's), got ", dy.shape());
    const detail::PoolGeometry& geo = saved.g;
    saved.dx.resize_uninitialized(saved.x_shape);
    T* const dx = saved.dx.data();
    const index_t in_plane = geo.h * geo.w, out_plane = geo.oh * geo.ow;
#pragma omp parallel for schedule(static) if (geo.planes * in_plane > (1 << 15))
    for (index_t p = 0; p < geo.planes; ++p) {  // a plane's windows touch only that plane: no races
      std::fill_n(dx + p * in_plane, in_plane, T(0));
      const T* g = dy.data() + p * out_plane;
      const std::int32_t* at = std::as_const(saved.argmax).data() + p * out_plane;
      for (index_t i = 0; i < out_plane; ++i) dx[at[i]] += g[i];
    }
    return saved.dx;
  }

  Shape output_shape(const Shape& x) const {
    const auto g = geometry_of(x);
    return {x[0], x[1], g.oh, g.ow};
  }

  void print(std::ostream& out, int = 0) const override {
    out << "MaxPool2d(kernel_size=" << kernel_ << ", stride=" << stride_ << ", padding=" << padding_ << ")";
  }

 private:
  detail::PoolGeometry geometry_of(const Shape& x) const {
    ember::detail::check(x.dim() == 4, *this, ": expected input of shape (N, C, H, W), got ", x);
    ember::detail::check(x[2] + 2 * padding_.h >= kernel_.h && x[3] + 2 * padding_.w >= kernel_.w, *this,
                         ": the window ", kernel_, " does not fit the input ", x, " (padding ", padding_, ")");
    detail::PoolGeometry g{x[0] * x[1], x[2], x[3], kernel_.h, kernel_.w, stride_.h, stride_.w, padding_.h, padding_.w, 0, 0};
    g.oh = (g.h + 2 * g.ph - g.kh) / g.sh + 1;
    g.ow = (g.w + 2 * g.pw - g.kw) / g.sw + 1;
    return g;
  }

  Size2 kernel_, stride_, padding_;
  struct Saved {                    // one use of the layer
    detail::PoolGeometry g{};
    Shape x_shape;
    Tensor<T> y;                    // y: (N, C, OH, OW)
    Tensor<std::int32_t> argmax;    // argmax: (N, C, OH, OW), offsets in x
    Tensor<T> dx;                   // dx: (N, C, H, W), its own per use (a use's dy may be another's dx)
  };
  detail::Tape<Saved> tape_;
  Tensor<T> vmax_;                 // (2, N*C*OH*W + a packet), scratch of the 2x2 kernels
  Tensor<std::int32_t> voff_;      // (2, N*C*OH*W + a packet), offsets in x of their winners
};

static_assert(Layer<MaxPool2d<float>>);

namespace reference {

// max over every window, by the definition; returns y (ties and NaN as PyTorch).
template <class T>
Tensor<T> maxpool2d_forward(const Tensor<T>& x, Size2 k, Size2 s, Size2 p, Tensor<T>* dx = nullptr,
                            const Tensor<T>* dy = nullptr) {
  const index_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  const index_t OH = (H + 2 * p.h - k.h) / s.h + 1, OW = (W + 2 * p.w - k.w) / s.w + 1;
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

// The pooling kernels. MaxPool2d's: any window, one plane at a time (the general loop), and the
// 2x2 stride-2 case in long passes that vectorise. Ties go to the first maximum in row-major order
// and NaN propagates, as PyTorch; nn::reference::maxpool2d_forward is the definition they are
// tested against. AvgPool2d's and AdaptiveAvgPool2d's: one plane at a time, forward and backward,
// with torch's window sizes (tests/test_avgpool2d.cpp holds their naive reference).
#pragma once

#include <algorithm>
#include <cstdint>
#include <limits>

#include "ember/kernels/isa.hpp"
#include "ember/kernels/simd.hpp"
#include "ember/threads.hpp"

namespace ember::kernels {

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

}  // namespace ember::kernels

// The passes that vectorise, once per instruction set (kernels/isa.hpp).
#define EMBER_ISA_BODY "ember/kernels/pool_isa.hpp"
#include "ember/kernels/foreach_isa.hpp"

namespace ember::kernels {

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
  ember::detail::parallel_for(rows, rows * w > (1 << 15), [&](index_t r_begin, index_t r_end) {
    EMBER_KERNELS_DISPATCH_CALL(maxpool_2x2_vertical(x, vmax, voff, r_begin, r_end, w))
  });
  const index_t n = rows * (w / 2);
  ember::detail::parallel_for(n, n > (1 << 15), [&](index_t k_begin, index_t k_end) {
    EMBER_KERNELS_DISPATCH_CALL(maxpool_2x2_horizontal(vmax, voff, y, argmax, k_begin, k_end))
  });
}

// The same for planes at most a packet wide (LeNet's second pool: 10), where a loop over one
// row is all remainder and runs scalar. Three passes that each run over the whole tensor:
//   1. horizontal over every input row: h[q] = the first maximum of x[2q], x[2q + 1];
//   2. vertical over every pair of consecutive h rows: v[q] = h[q], or h[q + OW] when strictly
//      greater (or the first NaN), so the upper row wins a tie and the window's first maximum in
//      row-major order wins overall. Only the pairs that start on an even row are windows;
//   3. copy those rows of v (and their offsets) to y and argmax.
// h, hoff, v, voff: N*C*H*OW scratch each, v and voff with a packet of slack after it.
template <class T>
void maxpool_2x2_narrow(const T* x, T* y, std::int32_t* argmax, T* h, std::int32_t* hoff, T* v, std::int32_t* voff,
                        index_t rows, index_t w) {
  const index_t ow = w / 2, half = 2 * rows * ow;
  ember::detail::parallel_for(half, half > (1 << 15), [&](index_t q_begin, index_t q_end) {
    EMBER_KERNELS_DISPATCH_CALL(maxpool_2x2_pairs(x, h, hoff, q_begin, q_end))
  });
  const index_t pairs = half - ow;
  ember::detail::parallel_for(pairs, pairs > (1 << 15), [&](index_t q_begin, index_t q_end) {
    EMBER_KERNELS_DISPATCH_CALL(maxpool_2x2_rows(h, hoff, v, voff, ow, q_begin, q_end))
  });
  simd::copy_runs(v, 2 * ow, y, ow, rows, v + half + simd::lanes<T>);
  simd::copy_runs(voff, 2 * ow, argmax, ow, rows, voff + half + simd::lanes<std::int32_t>);
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

// AvgPool2d, one plane: y[i, j] = the window's sum / its divisor. As torch's avg_pool2d: a window
// is clipped to the padded input (ceil mode's last window may reach past it), and the divisor is
// that clipped window's size with count_include_pad, else the number of input elements in it.
// pool_window() gives one window's input rows [y0, y1), columns [x0, x1) and divisor.
struct AvgWindow {
  index_t y0, y1, x0, x1;
  index_t divisor;
};
inline AvgWindow pool_window(const PoolGeometry& g, index_t i, index_t j, bool count_include_pad) {
  AvgWindow w{};
  w.y0 = i * g.sh - g.ph;
  w.x0 = j * g.sw - g.pw;
  w.y1 = std::min(w.y0 + g.kh, g.h + g.ph);
  w.x1 = std::min(w.x0 + g.kw, g.w + g.pw);
  const index_t padded = (w.y1 - w.y0) * (w.x1 - w.x0);
  w.y0 = std::max<index_t>(w.y0, 0);
  w.x0 = std::max<index_t>(w.x0, 0);
  w.y1 = std::min(w.y1, g.h);
  w.x1 = std::min(w.x1, g.w);
  w.divisor = count_include_pad ? padded : (w.y1 - w.y0) * (w.x1 - w.x0);
  return w;
}

template <class T>
void avgpool_plane(const T* x, T* y, const PoolGeometry& g, bool count_include_pad) {
  for (index_t i = 0; i < g.oh; ++i)
    for (index_t j = 0; j < g.ow; ++j) {
      const AvgWindow w = pool_window(g, i, j, count_include_pad);
      T sum = 0;
      for (index_t yy = w.y0; yy < w.y1; ++yy)
        for (index_t xx = w.x0; xx < w.x1; ++xx) sum += x[yy * g.w + xx];
      y[i * g.ow + j] = w.y0 < w.y1 && w.x0 < w.x1 ? sum / static_cast<T>(w.divisor) : T(0);
    }
}

// dx (one plane, zeroed here) += dy / divisor over each window.
template <class T>
void avgpool_plane_backward(const T* dy, T* dx, const PoolGeometry& g, bool count_include_pad) {
  std::fill_n(dx, g.h * g.w, T(0));
  for (index_t i = 0; i < g.oh; ++i)
    for (index_t j = 0; j < g.ow; ++j) {
      const AvgWindow w = pool_window(g, i, j, count_include_pad);
      if (w.y0 >= w.y1 || w.x0 >= w.x1) continue;
      const T share = dy[i * g.ow + j] / static_cast<T>(w.divisor);
      for (index_t yy = w.y0; yy < w.y1; ++yy)
        for (index_t xx = w.x0; xx < w.x1; ++xx) dx[yy * g.w + xx] += share;
    }
}

// AdaptiveAvgPool2d's bins, as torch's: output i of `out` over `in` averages [floor(i in / out),
// ceil((i + 1) in / out)); neighbouring bins overlap when out does not divide in.
constexpr index_t adaptive_start(index_t i, index_t in, index_t out) { return i * in / out; }
constexpr index_t adaptive_end(index_t i, index_t in, index_t out) { return ((i + 1) * in + out - 1) / out; }

// One plane of H x W into OH x OW (g.oh, g.ow; stride, kernel and padding unused).
template <class T>
void adaptive_avgpool_plane(const T* x, T* y, const PoolGeometry& g) {
  for (index_t i = 0; i < g.oh; ++i) {
    const index_t y0 = adaptive_start(i, g.h, g.oh), y1 = adaptive_end(i, g.h, g.oh);
    for (index_t j = 0; j < g.ow; ++j) {
      const index_t x0 = adaptive_start(j, g.w, g.ow), x1 = adaptive_end(j, g.w, g.ow);
      T sum = 0;
      for (index_t yy = y0; yy < y1; ++yy)
        for (index_t xx = x0; xx < x1; ++xx) sum += x[yy * g.w + xx];
      y[i * g.ow + j] = sum / static_cast<T>((y1 - y0) * (x1 - x0));
    }
  }
}

template <class T>
void adaptive_avgpool_plane_backward(const T* dy, T* dx, const PoolGeometry& g) {
  std::fill_n(dx, g.h * g.w, T(0));
  for (index_t i = 0; i < g.oh; ++i) {
    const index_t y0 = adaptive_start(i, g.h, g.oh), y1 = adaptive_end(i, g.h, g.oh);
    for (index_t j = 0; j < g.ow; ++j) {
      const index_t x0 = adaptive_start(j, g.w, g.ow), x1 = adaptive_end(j, g.w, g.ow);
      const T share = dy[i * g.ow + j] / static_cast<T>((y1 - y0) * (x1 - x0));
      for (index_t yy = y0; yy < y1; ++yy)
        for (index_t xx = x0; xx < x1; ++xx) dx[yy * g.w + xx] += share;
    }
  }
}

}  // namespace ember::kernels

// im2col and its adjoint for Conv2d: the general loops (any stride and padding, also the
// reference the stride-1 path is tested against) and the stride-1 path on a zero-padded copy that
// moves runs in whole packets.
#pragma once

#include <algorithm>

#include "ember/kernels/shape.hpp"
#include "ember/kernels/simd.hpp"

namespace ember::kernels {

// The geometry shared by the fast and the reference convolution.
struct ConvGeometry {
  index_t n, c, h, w;    // input (N, C, H, W)
  index_t kh, kw;        // kernel
  index_t sh, sw;        // stride
  index_t ph, pw;        // zero padding
  index_t oh, ow;        // output spatial size: kernels::output_size
  index_t dh = 1, dw = 1;  // dilation: kernel tap (i, j) reads x at offset (i*dh, j*dw)
  index_t patch() const { return c * kh * kw; }
  index_t out_plane() const { return oh * ow; }
};

// The output columns ox in [lo, hi) whose input column ox*sw - pw + j lies inside [0, W) (j is
// the tap's column offset, j*dw for tap j).
inline void valid_columns(const ConvGeometry& g, index_t j, index_t& lo, index_t& hi) {
  const index_t first = g.pw - j;  // ox*sw >= pw - j
  lo = first <= 0 ? 0 : (first + g.sw - 1) / g.sw;
  const index_t last = g.w - 1 + g.pw - j;  // ox*sw <= W - 1 + pw - j
  hi = last < 0 ? 0 : std::min(g.ow, last / g.sw + 1);
  lo = std::min(lo, hi);
}

// col: (C*kh*kw, OH*OW) of one sample x: (C, H, W); row (c, i, j) holds
// x[c, oh*sh - ph + i*dh, ow*sw - pw + j*dw] (zero outside x). The valid range of each output
// row is computed once, so the inner loop is a plain (for stride 1, contiguous) copy.
template <class T>
void im2col(const T* x, T* col, const ConvGeometry& g) {
  for (index_t c = 0; c < g.c; ++c)
    for (index_t i = 0; i < g.kh; ++i)
      for (index_t j = 0; j < g.kw; ++j) {
        T* row = col + ((c * g.kh + i) * g.kw + j) * g.out_plane();
        const index_t di = i * g.dh, dj = j * g.dw;
        index_t lo, hi;
        valid_columns(g, dj, lo, hi);
        for (index_t oy = 0; oy < g.oh; ++oy) {
          const index_t y = oy * g.sh - g.ph + di;
          T* out = row + oy * g.ow;
          if (y < 0 || y >= g.h) {
            std::fill_n(out, g.ow, T(0));
            continue;
          }
          const T* in = x + (c * g.h + y) * g.w - g.pw + dj;  // in[ox * sw] is x[c, y, ox*sw - pw + j*dw]
          std::fill_n(out, lo, T(0));
          if (g.sw == 1) std::copy(in + lo, in + hi, out + lo);
          else
            for (index_t ox = lo; ox < hi; ++ox) out[ox] = in[ox * g.sw];
          std::fill(out + hi, out + g.ow, T(0));
        }
      }
}

// The adjoint of im2col: adds every entry of col back to the input position it came from.
template <class T>
void col2im_add(const T* col, T* dx, const ConvGeometry& g) {
  for (index_t c = 0; c < g.c; ++c)
    for (index_t i = 0; i < g.kh; ++i)
      for (index_t j = 0; j < g.kw; ++j) {
        const T* row = col + ((c * g.kh + i) * g.kw + j) * g.out_plane();
        const index_t di = i * g.dh, dj = j * g.dw;
        index_t lo, hi;
        valid_columns(g, dj, lo, hi);
        for (index_t oy = 0; oy < g.oh; ++oy) {
          const index_t y = oy * g.sh - g.ph + di;
          if (y < 0 || y >= g.h) continue;
          T* out = dx + (c * g.h + y) * g.w - g.pw + dj;
          const T* in = row + oy * g.ow;
          if (g.sw == 1) {
#pragma omp simd
            for (index_t ox = lo; ox < hi; ++ox) out[ox] += in[ox];
          } else {
            for (index_t ox = lo; ox < hi; ++ox) out[ox * g.sw] += in[ox];
          }
        }
      }
}

// Stride 1, the common case, works on a zero-padded copy xp of each sample: C planes of
// H + 2 ph rows, `row` apart, with W + 2 pw values each, and some slack at the end. Every row of
// col is then OH runs of OW values at fixed offsets in xp, and a run shorter than a packet costs
// one packet copy instead of a call to memcpy. Rows are at least a whole number of packets of a
// run apart, so that col2im's last packet of a run never overlaps the next run (a partial
// overlap would stall store-to-load forwarding on every run).
struct PaddedLayout {
  index_t hp, row, size;  // rows per plane, values per row, values in all
  template <class T>
  static PaddedLayout of(const ConvGeometry& g) {
    constexpr index_t L = simd::lanes<T>;
    const index_t hp = g.h + 2 * g.ph, row = std::max(g.w + 2 * g.pw, (g.ow + L - 1) / L * L);
    return {hp, row, g.c * hp * row + L + (g.kw - 1) * g.dw + 1};
  }
};

template <class T>
void pad_into(const T* x, T* xp, const ConvGeometry& g, const PaddedLayout& pl) {
  std::fill_n(xp, pl.size, T(0));
  for (index_t c = 0; c < g.c; ++c)
    for (index_t y = 0; y < g.h; ++y)
      std::copy_n(x + (c * g.h + y) * g.w, g.w, xp + (c * pl.hp + y + g.ph) * pl.row + g.pw);
}

// im2col for stride 1 from xp (see pad_into): each row of col is OH runs of OW values, copied
// in whole packets (xp's slack covers the reads past a run).
template <class T>
void im2col_stride1(const T* xp, T* col, const ConvGeometry& g, const PaddedLayout& pl) {
  for (index_t c = 0; c < g.c; ++c)
    for (index_t i = 0; i < g.kh; ++i)
      for (index_t j = 0; j < g.kw; ++j)
        simd::copy_runs(xp + (c * pl.hp + i * g.dh) * pl.row + j * g.dw, pl.row, col + ((c * g.kh + i) * g.kw + j) * g.out_plane(),
                        g.ow, g.oh, xp + pl.size);
}

// The adjoint of im2col_stride1: adds every run of dcol into dxp (zero it first; the layout of
// xp). A run's last, partial packet is masked to zero beyond the run before it is added, so it
// reads up to a packet past the run's end (dcol needs a packet of slack) and changes nothing
// there.
template <class T>
void col2im_stride1_add(const T* dcol, T* dxp, const ConvGeometry& g, const PaddedLayout& pl, const T* dcol_end) {
  using Eigen::internal::padd;
  using Eigen::internal::pand;
  constexpr index_t L = simd::lanes<T>;
  const index_t ow = g.ow, full = ow / L * L;
  const auto tail_mask = simd::first_lanes<T>(ow - full);
  expect(full == ow || dcol + g.patch() * g.out_plane() + (L - (ow - full)) <= dcol_end,
         "col2im_stride1_add: dcol needs a packet of readable slack after its last run");
  for (index_t c = 0; c < g.c; ++c)
    for (index_t i = 0; i < g.kh; ++i)
      for (index_t j = 0; j < g.kw; ++j) {
        T* out = dxp + (c * pl.hp + i * g.dh) * pl.row + j * g.dw;
        const T* in = dcol + ((c * g.kh + i) * g.kw + j) * g.out_plane();
        for (index_t oy = 0; oy < g.oh; ++oy) {
          T* dst = out + oy * pl.row;
          const T* src = in + oy * ow;
          for (index_t ox = 0; ox < full; ox += L) simd::store(dst + ox, padd(simd::load(dst + ox), simd::load(src + ox)));
          if (full < ow)
            simd::store(dst + full, padd(simd::load(dst + full), pand(simd::load(src + full), tail_mask)));
        }
      }
}

// dx (C, H, W) = the inside of dxp.
template <class T>
void unpad_into(const T* dxp, T* dx, const ConvGeometry& g, const PaddedLayout& pl) {
  for (index_t c = 0; c < g.c; ++c)
    for (index_t y = 0; y < g.h; ++y)
      std::copy_n(dxp + (c * pl.hp + y + g.ph) * pl.row + g.pw, g.w, dx + (c * g.h + y) * g.w);
}

}  // namespace ember::kernels

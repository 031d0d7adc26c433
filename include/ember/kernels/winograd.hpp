// Winograd's minimal filtering F(2x2, 3x3) (Lavin and Gray, "Fast Algorithms for Convolutional
// Neural Networks", 2016) for Conv2d's 3x3, stride-1 convolutions with many channels: each 2x2
// block of outputs ("tile") comes from a 4x4 block of the padded input d as
//     Y = A^T [ (G g G^T) . (B^T d B) ] A        (. : element by element)
// so the 16 positions xi of the 4x4 transformed tile are 16 independent products over channels,
// M[xi] (tiles, C_out) = V[xi] (tiles, C_in) U[xi] (C_in, C_out): 16 multiply-adds per tile and
// channel pair instead of direct convolution's 4 outputs * 9 taps = 36, 2.25x fewer.
// Backward reuses the same algebra transposed (Z = A dY A^T):
//     dU[xi] += V[xi]^T Z[xi],   dweight = G^T dU G,
//     dV[xi]  = Z[xi] U[xi]^T,   dx tile += B dV B^T   (tiles overlap by 2 rows and columns).
// The transforms add and subtract packets of channels, so a sample is first moved to a
// channels-last, zero-padded copy (Hp, Wp, C) by register transposes of lanes x lanes blocks
// (16 x 16 floats with AVX-512, 8 x 8 with AVX2; the compiler flags' packets); the products are
// the register-blocked kernels::ab_product of kernels/gemm.hpp, on the best instruction set the
// CPU has (kernels/isa.hpp). Tiles go in chunks of a few tile rows, so a chunk's V, M and Z stay
// in L2. The float error is a small multiple of direct convolution's (the transforms add at most
// 4 terms per step); tests/test_conv2d.cpp bounds it.
#pragma once

#include <algorithm>

#include "ember/kernels/gemm.hpp"
#include "ember/kernels/im2col.hpp"
#include "ember/kernels/simd.hpp"

namespace ember::kernels::winograd {

using simd::lanes;
using simd::load;
using simd::Packet;
using simd::store;

// Whether a convolution takes this path: 3x3, stride 1, no dilation, one group, and channel
// counts that are whole packets (channels are the vector lanes of every transform).
template <class T>
inline bool applies(const ConvGeometry& g, index_t out_channels, index_t groups) {
  constexpr index_t L = lanes<T>;
  return L > 1 && g.kh == 3 && g.kw == 3 && g.sh == 1 && g.sw == 1 && g.dh == 1 && g.dw == 1 && groups == 1 &&
         g.c % L == 0 && out_channels % L == 0;
}

// One sample's tiles and the scratch a thread needs for them.
struct Plan {
  index_t c, o;            // in and out channels
  index_t h, w, ph, pw;    // input size and padding
  index_t oh, ow;          // output size
  index_t th, tw;          // tiles down and across: ceil(OH / 2), ceil(OW / 2)
  index_t hp, wp;          // the padded channels-last input: (2 th + 2, 2 tw + 2, C)
  index_t chunk_rows;      // tile rows per chunk

  static Plan of(const ConvGeometry& g, index_t out_channels) {
    Plan p{g.c, out_channels, g.h, g.w, g.ph, g.pw, g.oh, g.ow, (g.oh + 1) / 2, (g.ow + 1) / 2, 0, 0, 0};
    p.hp = 2 * p.th + 2;
    p.wp = 2 * p.tw + 2;
    p.chunk_rows = std::clamp<index_t>(48 / p.tw, 1, p.th);  // about 48 tiles: V, M, Z of a chunk fit L2
    return p;
  }
  index_t chunk_tiles() const { return chunk_rows * tw; }
  index_t padded_size() const { return hp * wp * c; }
  index_t plane() const { return oh * ow; }
  // Scratch per thread: the padded input, V (or dV), M (or Z), the output (or dy) channels
  // last, and for backward the padded dx.
  index_t forward_scratch_size() const { return padded_size() + 16 * chunk_tiles() * (c + o) + plane() * o; }
  index_t backward_scratch_size() const { return forward_scratch_size() + padded_size(); }
  // The transformed weights: U (16, C_in, C_out) for forward, U^T (16, C_out, C_in) for dx.
  index_t weights_size() const { return 16 * c * o; }
};

// dst (cols, rows) = src (rows, cols)^T, rows lds and ldd apart, by lanes x lanes blocks in
// registers; the last block of a dimension overlaps the one before it (writing its values
// again), so nothing is read or written outside the matrices. Under a packet: one at a time.
template <class T>
void transpose(const T* src, index_t lds, index_t rows, index_t cols, T* dst, index_t ldd) {
  constexpr index_t L = lanes<T>;
  if (L == 1 || rows < L || cols < L) {
    for (index_t i = 0; i < rows; ++i)
      for (index_t j = 0; j < cols; ++j) dst[j * ldd + i] = src[i * lds + j];
    return;
  }
  if constexpr (L > 1) {
    for (index_t i0 = 0; i0 < rows; i0 += L) {
      const index_t i = std::min(i0, rows - L);
      for (index_t j0 = 0; j0 < cols; j0 += L) {
        const index_t j = std::min(j0, cols - L);
        simd::Block<T> block;
        for (index_t r = 0; r < L; ++r) block.packet[r] = load(src + (i + r) * lds + j);
        simd::transpose<T>(block);
        for (index_t r = 0; r < L; ++r) store(dst + (j + r) * ldd + i, block.packet[r]);
      }
    }
  }
}

// xp (Hp, Wp, C) = one sample x (C, H, W), channels last, at offset (ph, pw) in zeros.
template <class T>
void pad_channels_last(const T* x, const Plan& p, T* xp) {
  const index_t row = p.wp * p.c;
  for (index_t y = 0; y < p.hp; ++y) {
    T* r = xp + y * row;
    if (y < p.ph || y >= p.ph + p.h) {
      std::fill_n(r, row, T(0));
      continue;
    }
    std::fill_n(r, p.pw * p.c, T(0));
    std::fill(r + (p.pw + p.w) * p.c, r + row, T(0));
    transpose(x + (y - p.ph) * p.w, p.h * p.w, p.c, p.w, r + p.pw * p.c, p.c);
  }
}

// One sample dx (C, H, W) = the interior of xp (Hp, Wp, C).
template <class T>
void unpad_channels_last(const T* xp, const Plan& p, T* x) {
  for (index_t y = 0; y < p.h; ++y)
    transpose(xp + ((y + p.ph) * p.wp + p.pw) * p.c, p.c, p.w, p.c, x + y * p.w, p.h * p.w);
}

// The 16 packets of V = B^T d B of the 4x4 input tile at d (packet (r, s) at d + r rs + s cs),
// to v + xi vs for xi = 4 r + s.
template <class T>
EIGEN_STRONG_INLINE void input_transform(const T* d, index_t rs, index_t cs, T* v, index_t vs) {
  using Eigen::internal::padd;
  using Eigen::internal::psub;
  Packet<T> t[4][4];
  for (int s = 0; s < 4; ++s) {
    const Packet<T> d0 = load(d + s * cs), d1 = load(d + rs + s * cs), d2 = load(d + 2 * rs + s * cs),
                    d3 = load(d + 3 * rs + s * cs);
    t[0][s] = psub(d0, d2);
    t[1][s] = padd(d1, d2);
    t[2][s] = psub(d2, d1);
    t[3][s] = psub(d1, d3);
  }
  for (int r = 0; r < 4; ++r) {
    store(v + (4 * r + 0) * vs, psub(t[r][0], t[r][2]));
    store(v + (4 * r + 1) * vs, padd(t[r][1], t[r][2]));
    store(v + (4 * r + 2) * vs, psub(t[r][2], t[r][1]));
    store(v + (4 * r + 3) * vs, psub(t[r][1], t[r][3]));
  }
}

// The 2x2 outputs Y = A^T M A + bias of the tile whose 16 packets are at m + xi ms.
template <class T>
EIGEN_STRONG_INLINE void output_transform(const T* m, index_t ms, const Packet<T>& bias, Packet<T> (&y)[2][2]) {
  using Eigen::internal::padd;
  using Eigen::internal::psub;
  Packet<T> s[2][4];
  for (int j = 0; j < 4; ++j) {
    const Packet<T> m0 = load(m + j * ms), m1 = load(m + (4 + j) * ms), m2 = load(m + (8 + j) * ms),
                    m3 = load(m + (12 + j) * ms);
    s[0][j] = padd(padd(m0, m1), m2);
    s[1][j] = psub(psub(m1, m2), m3);
  }
  for (int a = 0; a < 2; ++a) {
    y[a][0] = padd(padd(padd(s[a][0], s[a][1]), s[a][2]), bias);
    y[a][1] = padd(psub(psub(s[a][1], s[a][2]), s[a][3]), bias);
  }
}

// Z = A dY A^T of a tile's 2x2 output gradients dy[a][b], to z + xi zs.
template <class T>
EIGEN_STRONG_INLINE void gradient_transform(const Packet<T> (&dy)[2][2], T* z, index_t zs) {
  using Eigen::internal::padd;
  using Eigen::internal::pnegate;
  using Eigen::internal::psub;
  Packet<T> t[4][2];
  for (int b = 0; b < 2; ++b) {
    t[0][b] = dy[0][b];
    t[1][b] = padd(dy[0][b], dy[1][b]);
    t[2][b] = psub(dy[0][b], dy[1][b]);
    t[3][b] = pnegate(dy[1][b]);
  }
  for (int r = 0; r < 4; ++r) {
    store(z + (4 * r + 0) * zs, t[r][0]);
    store(z + (4 * r + 1) * zs, padd(t[r][0], t[r][1]));
    store(z + (4 * r + 2) * zs, psub(t[r][0], t[r][1]));
    store(z + (4 * r + 3) * zs, pnegate(t[r][1]));
  }
}

// dd += B dV B^T: the 4x4 input-tile gradient from the 16 packets at dv + xi vs, added at dd
// (packet (r, s) at dd + r rs + s cs).
template <class T>
EIGEN_STRONG_INLINE void input_gradient_transform(const T* dv, index_t vs, T* dd, index_t rs, index_t cs) {
  using Eigen::internal::padd;
  using Eigen::internal::pnegate;
  using Eigen::internal::psub;
  Packet<T> t[4][4];
  for (int s = 0; s < 4; ++s) {
    const Packet<T> v0 = load(dv + s * vs), v1 = load(dv + (4 + s) * vs), v2 = load(dv + (8 + s) * vs),
                    v3 = load(dv + (12 + s) * vs);
    t[0][s] = v0;
    t[1][s] = padd(psub(v1, v2), v3);
    t[2][s] = psub(padd(v1, v2), v0);
    t[3][s] = pnegate(v3);
  }
  for (int r = 0; r < 4; ++r) {
    const Packet<T> e[4] = {t[r][0], padd(psub(t[r][1], t[r][2]), t[r][3]), psub(padd(t[r][1], t[r][2]), t[r][0]),
                            pnegate(t[r][3])};
    for (int s = 0; s < 4; ++s) {
      T* q = dd + r * rs + s * cs;
      store(q, padd(load(q), e[s]));
    }
  }
}

// U = G g G^T of every 3x3 kernel of w (O, C, 3, 3): u (16, C, O) for the forward and ut
// (16, O, C) for dx; either may be null.
template <class T>
void transform_weights(const T* w, const Plan& p, T* u, T* ut) {
  const T half(0.5);
  for (index_t o = 0; o < p.o; ++o)
    for (index_t c = 0; c < p.c; ++c) {
      const T* g = w + (o * p.c + c) * 9;
      T t[4][3];
      for (int j = 0; j < 3; ++j) {
        t[0][j] = g[j];
        t[1][j] = (g[j] + g[3 + j] + g[6 + j]) * half;
        t[2][j] = (g[j] - g[3 + j] + g[6 + j]) * half;
        t[3][j] = g[6 + j];
      }
      for (int r = 0; r < 4; ++r) {
        const T row[4] = {t[r][0], (t[r][0] + t[r][1] + t[r][2]) * half, (t[r][0] - t[r][1] + t[r][2]) * half, t[r][2]};
        for (int s = 0; s < 4; ++s) {
          if (u) u[((4 * r + s) * p.c + c) * p.o + o] = row[s];
          if (ut) ut[((4 * r + s) * p.o + o) * p.c + c] = row[s];
        }
      }
    }
}

// dweight (O, C, 3, 3) += G^T dU G, from du (16, C, O).
template <class T>
void add_weight_gradient(const T* du, const Plan& p, T* dw) {
  const T half(0.5);
  for (index_t o = 0; o < p.o; ++o)
    for (index_t c = 0; c < p.c; ++c) {
      T d[4][4];
      for (int xi = 0; xi < 16; ++xi) d[xi / 4][xi % 4] = du[(xi * p.c + c) * p.o + o];
      T t[3][4];
      for (int j = 0; j < 4; ++j) {
        t[0][j] = d[0][j] + (d[1][j] + d[2][j]) * half;
        t[1][j] = (d[1][j] - d[2][j]) * half;
        t[2][j] = (d[1][j] + d[2][j]) * half + d[3][j];
      }
      T* g = dw + (o * p.c + c) * 9;
      for (int r = 0; r < 3; ++r) {
        g[3 * r + 0] += t[r][0] + (t[r][1] + t[r][2]) * half;
        g[3 * r + 1] += (t[r][1] - t[r][2]) * half;
        g[3 * r + 2] += (t[r][1] + t[r][2]) * half + t[r][3];
      }
    }
}

// V of the tiles in tile rows [r0, r1) (tc of them) from the padded input: v (16, tc, C).
template <class T>
void input_chunk(const T* xp, const Plan& p, index_t r0, index_t r1, T* v) {
  constexpr index_t L = lanes<T>;
  const index_t tc = (r1 - r0) * p.tw, rs = p.wp * p.c;
  for (index_t ti = r0; ti < r1; ++ti)
    for (index_t tj = 0; tj < p.tw; ++tj) {
      const index_t t = (ti - r0) * p.tw + tj;
      const T* d = xp + (2 * ti * p.wp + 2 * tj) * p.c;
      for (index_t c = 0; c < p.c; c += L) input_transform(d + c, rs, p.c, v + t * p.c + c, tc * p.c);
    }
}

// One sample's forward: y (O, OH, OW) from x (C, H, W); u from transform_weights, bias (O) or null.
template <class T>
void forward(const T* x, const T* u, const T* bias, const Plan& p, T* scratch, T* y) {
  constexpr index_t L = lanes<T>;
  T* const xp = scratch;
  T* const v = xp + p.padded_size();
  T* const m = v + 16 * p.chunk_tiles() * p.c;
  T* const yc = m + 16 * p.chunk_tiles() * p.o;  // y channels last: (OH, OW, O)
  pad_channels_last(x, p, xp);
  for (index_t r0 = 0; r0 < p.th; r0 += p.chunk_rows) {
    const index_t r1 = std::min(p.th, r0 + p.chunk_rows), tc = (r1 - r0) * p.tw;
    input_chunk(xp, p, r0, r1, v);
    for (index_t xi = 0; xi < 16; ++xi)  // M[xi] (tc, O) = V[xi] (tc, C) U[xi] (C, O)
      ab_product<false>(v + xi * tc * p.c, u + xi * p.c * p.o, m + xi * tc * p.o, tc, p.o,
                     {.ars = p.c, .acs = 1, .ldb = p.o, .ldc = p.o, .k = p.c});
    for (index_t ti = r0; ti < r1; ++ti)
      for (index_t tj = 0; tj < p.tw; ++tj) {
        const index_t t = (ti - r0) * p.tw + tj;
        const index_t rows = std::min<index_t>(2, p.oh - 2 * ti), cols = std::min<index_t>(2, p.ow - 2 * tj);
        for (index_t o = 0; o < p.o; o += L) {
          Packet<T> out[2][2];
          const Packet<T> b = bias ? load(bias + o) : simd::pset1_zero<T>();
          output_transform(m + t * p.o + o, tc * p.o, b, out);
          for (index_t a = 0; a < rows; ++a)
            for (index_t c = 0; c < cols; ++c) store(yc + ((2 * ti + a) * p.ow + 2 * tj + c) * p.o + o, out[a][c]);
        }
      }
  }
  transpose(yc, p.o, p.plane(), p.o, y, p.plane());
}

// One sample's backward: du (16, C, O) += the transformed weight gradient, and, when dx is not
// null, dx (C, H, W) = the input gradient; x is the sample's input, dy (O, OH, OW) its output
// gradient, ut from transform_weights.
template <class T>
void backward(const T* x, const T* dy, const T* ut, const Plan& p, T* scratch, T* du, T* dx) {
  constexpr index_t L = lanes<T>;
  T* const xp = scratch;                          // the padded input
  T* const v = xp + p.padded_size();              // V, then dV
  T* const z = v + 16 * p.chunk_tiles() * p.c;    // Z
  T* const dyc = z + 16 * p.chunk_tiles() * p.o;  // dy channels last: (OH, OW, O)
  T* const dxp = dyc + p.plane() * p.o;           // dx padded
  transpose(dy, p.plane(), p.o, p.plane(), dyc, p.o);
  pad_channels_last(x, p, xp);
  if (dx) std::fill_n(dxp, p.padded_size(), T(0));
  for (index_t r0 = 0; r0 < p.th; r0 += p.chunk_rows) {
    const index_t r1 = std::min(p.th, r0 + p.chunk_rows), tc = (r1 - r0) * p.tw;
    input_chunk(xp, p, r0, r1, v);
    for (index_t ti = r0; ti < r1; ++ti)
      for (index_t tj = 0; tj < p.tw; ++tj) {
        const index_t t = (ti - r0) * p.tw + tj;
        const index_t rows = std::min<index_t>(2, p.oh - 2 * ti), cols = std::min<index_t>(2, p.ow - 2 * tj);
        for (index_t o = 0; o < p.o; o += L) {
          Packet<T> g[2][2];
          for (index_t a = 0; a < 2; ++a)
            for (index_t c = 0; c < 2; ++c)
              g[a][c] = a < rows && c < cols ? load(dyc + ((2 * ti + a) * p.ow + 2 * tj + c) * p.o + o)
                                             : simd::pset1_zero<T>();
          gradient_transform(g, z + t * p.o + o, tc * p.o);
        }
      }
    for (index_t xi = 0; xi < 16; ++xi)  // dU[xi] (C, O) += V[xi]^T (C, tc) Z[xi] (tc, O)
      ab_product<true>(v + xi * tc * p.c, z + xi * tc * p.o, du + xi * p.c * p.o, p.c, p.o,
                    {.ars = 1, .acs = p.c, .ldb = p.o, .ldc = p.o, .k = tc});
    if (!dx) continue;
    for (index_t xi = 0; xi < 16; ++xi)  // dV[xi] (tc, C) = Z[xi] (tc, O) U[xi]^T (O, C)
      ab_product<false>(z + xi * tc * p.o, ut + xi * p.o * p.c, v + xi * tc * p.c, tc, p.c,
                     {.ars = p.o, .acs = 1, .ldb = p.c, .ldc = p.c, .k = p.o});
    for (index_t ti = r0; ti < r1; ++ti)
      for (index_t tj = 0; tj < p.tw; ++tj) {
        const index_t t = (ti - r0) * p.tw + tj;
        T* dd = dxp + (2 * ti * p.wp + 2 * tj) * p.c;
        for (index_t c = 0; c < p.c; c += L) input_gradient_transform(v + t * p.c + c, tc * p.c, dd + c, p.wp * p.c, p.c);
      }
  }
  if (dx) unpad_channels_last(dxp, p, dx);
}

}  // namespace ember::kernels::winograd

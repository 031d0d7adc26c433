// The register-blocked matrix products of Linear and Conv2d, on Eigen's packets (kernels/simd.hpp),
// with kernels::reference beside them. Tile sizes come from the target ISA's register count, so an
// AVX2 build (16 registers) gets tiles that fit, not AVX-512's (32).
#pragma once

#include <algorithm>
#include <cstdint>

#include "ember/kernels/simd.hpp"

namespace ember::kernels {

// Linear's backward (dx = dy W, dweight += dy^T x) through gemm_ab, measured against Eigen's GEMM
// in the layer (bench linear_784_128/forward_backward, 2026-12-02, AMD EPYC): with AVX-512 the
// kernel wins; in an AVX2 build (-march=haswell, 16 registers) Eigen was faster at batch 256 and
// 1024 (1 thread: 1,022 against 1,481 us and 4,702 against 5,941 us), so there Linear's backward
// uses Eigen. Its forward (gemm_abt) matched Eigen on AVX2 and is kept.
inline constexpr bool gemm_ab_wins_on_linear_backward = simd::registers >= 32;

using simd::lanes;
using simd::load;
using simd::Packet;
using simd::store;
using simd::pset1_zero;
using simd::last_lanes;
using simd::keep_in_register;

// C += A B^T, lane by lane, for A (M, K) and B (N, K) whose rows are contiguous (row strides
// lda and ldb). cv (M, N, lanes) holds, for each (m, n), a packet of partial sums; summing its
// lanes gives C, which the caller does once, after accumulating many products. This is the
// product Eigen does worst: a long K and a short N (under Eigen's 3-packet kernel height) from
// row-major data, as in the gradient of a small convolution's weights, dweight += dy_n col_n^T
// with N = C_in*kh*kw. Register blocks that need no packing (4 x 4 packets with 32 registers,
// 3 x 3 with 16) run it 2-4x faster.
//
// A K that is not a multiple of lanes ends with the packet that ends at K, its lanes already
// summed masked to zero (`tail` keeps the others); a K below lanes is summed one by one into
// lane 0. Nothing is read outside the rows.
struct AbtOperands {
  index_t lda, ldb, k;
};

template <int MR, int NR, bool Masked, class T>
EIGEN_STRONG_INLINE void abt_step(const T* a, const T* b, const AbtOperands& o, const Packet<T>& tail,
                                  Packet<T> (&acc)[MR][NR]) {
  using Eigen::internal::pand;
  using Eigen::internal::pmadd;
  Packet<T> bv[NR];
  for (int c = 0; c < NR; ++c) {
    bv[c] = Masked ? pand(load(b + c * o.ldb), tail) : load(b + c * o.ldb);
    keep_in_register(bv[c]);
  }
  for (int r = 0; r < MR; ++r) {
    Packet<T> av = Masked ? pand(load(a + r * o.lda), tail) : load(a + r * o.lda);
    keep_in_register(av);
    for (int c = 0; c < NR; ++c) acc[r][c] = pmadd(av, bv[c], acc[r][c]);
  }
}

template <int MR, int NR, class T>
void accumulate_abt_block(const T* a, const T* b, const AbtOperands& o, const Packet<T>& tail, T* cv, index_t n) {
  constexpr index_t L = lanes<T>;
  Packet<T> acc[MR][NR];
  for (int r = 0; r < MR; ++r)
    for (int c = 0; c < NR; ++c) acc[r][c] = load(cv + (r * n + c) * L);
  const index_t full = o.k / L * L;
  for (index_t i = 0; i < full; i += L) abt_step<MR, NR, false>(a + i, b + i, o, tail, acc);
  if (full < o.k && o.k >= L) abt_step<MR, NR, true>(a + o.k - L, b + o.k - L, o, tail, acc);
  for (int r = 0; r < MR; ++r)
    for (int c = 0; c < NR; ++c) store(cv + (r * n + c) * L, acc[r][c]);
  if (o.k < L)
    for (index_t i = 0; i < o.k; ++i)
      for (int r = 0; r < MR; ++r)
        for (int c = 0; c < NR; ++c) cv[(r * n + c) * L] += a[r * o.lda + i] * b[c * o.ldb + i];
}

// The block of accumulate_abt: MR x NR accumulators, NR packets of B and one of A per step.
inline constexpr int abt_block = simd::registers >= 32 ? 4 : 3;
static_assert(abt_block * abt_block + abt_block + 1 <= simd::registers, "accumulate_abt's block must fit the registers");

template <int MR, class T>
void accumulate_abt_rows(const T* a, const T* b, const AbtOperands& o, index_t n, const Packet<T>& tail, T* cv) {
  constexpr index_t L = lanes<T>;
  constexpr int NR = abt_block;
  index_t j = 0;
  for (; j + NR <= n; j += NR) accumulate_abt_block<MR, NR>(a, b + j * o.ldb, o, tail, cv + j * L, n);
  switch (n - j) {
    case 3:
      if constexpr (NR > 3) accumulate_abt_block<MR, 3>(a, b + j * o.ldb, o, tail, cv + j * L, n);
      break;
    case 2: accumulate_abt_block<MR, 2>(a, b + j * o.ldb, o, tail, cv + j * L, n); break;
    case 1: accumulate_abt_block<MR, 1>(a, b + j * o.ldb, o, tail, cv + j * L, n); break;
    default: break;
  }
}

template <class T>
void accumulate_abt(const T* a, const T* b, const AbtOperands& o, index_t m, index_t n, T* cv) {
  constexpr index_t L = lanes<T>;
  const Packet<T> tail = last_lanes<T>(o.k % L);
  constexpr int MR = abt_block;
  index_t i = 0;
  for (; i + MR <= m; i += MR) accumulate_abt_rows<MR>(a + i * o.lda, b, o, n, tail, cv + i * n * L);
  switch (m - i) {
    case 3:
      if constexpr (MR > 3) accumulate_abt_rows<3>(a + i * o.lda, b, o, n, tail, cv + i * n * L);
      break;
    case 2: accumulate_abt_rows<2>(a + i * o.lda, b, o, n, tail, cv + i * n * L); break;
    case 1: accumulate_abt_rows<1>(a + i * o.lda, b, o, n, tail, cv + i * n * L); break;
    default: break;
  }
}

// C = A B (+ bias per row of C), or C += A B, with B (K, N) and C (M, N) row-major (row strides
// ldb, ldc) and A (M, K) at any strides: element (r, i) at a[r * ars + i * acs], so A can be a
// transposed view (dweight += dy^T x). No operand is packed. Each block of MR rows and NP packets
// of columns keeps its MR * NP packets of C in registers through the K steps, each step one load
// per packet of B and one broadcast per row of A. Eigen's GEMM, whose kernel is 48 rows tall and
// which packs both operands, runs a convolution's forward with a 9- or 25-value patch at a third
// of this speed, and a Linear layer's dx and dweight at 0.7x.
//
// A last partial packet of columns is computed over the packet that ends at N, which overlaps
// the packet before it: an assignment writes those columns' values again, unchanged; an
// accumulation starts that packet from zero and adds only its new lanes.
struct AbOperands {
  index_t ars, acs, ldb, ldc, k;
};

template <int MR, int NP, bool Accumulate, bool Tail, class T>
EIGEN_STRONG_INLINE void gemm_ab_block(const T* a, const T* b, T* c, const AbOperands& o, const T* bias,
                                       const Packet<T>& tail) {
  using Eigen::internal::padd;
  using Eigen::internal::pand;
  using Eigen::internal::pmadd;
  using Eigen::internal::pset1;
  constexpr index_t L = lanes<T>;
  Packet<T> acc[MR][NP];
  for (int r = 0; r < MR; ++r)
    for (int j = 0; j < NP; ++j)
      acc[r][j] = Accumulate ? (Tail ? pset1<Packet<T>>(T(0)) : load(c + r * o.ldc + j * L))
                             : pset1<Packet<T>>(bias ? bias[r] : T(0));
  for (index_t i = 0; i < o.k; ++i) {
    Packet<T> bv[NP];
    for (int j = 0; j < NP; ++j) {
      bv[j] = load(b + i * o.ldb + j * L);
      keep_in_register(bv[j]);
    }
    const T* ai = a + i * o.acs;
    for (int r = 0; r < MR; ++r) {
      const Packet<T> av = pset1<Packet<T>>(ai[r * o.ars]);
      for (int j = 0; j < NP; ++j) acc[r][j] = pmadd(av, bv[j], acc[r][j]);
    }
  }
  for (int r = 0; r < MR; ++r)
    for (int j = 0; j < NP; ++j) {
      T* cp = c + r * o.ldc + j * L;
      store(cp, Accumulate && Tail ? padd(load(cp), pand(acc[r][j], tail)) : acc[r][j]);
    }
}

// Packets of columns per block of MR rows: MR * NP accumulators, NP packets of B and one
// broadcast of A fit the registers (MR * NP + NP + 1 <= registers), at most 4.
template <int MR>
inline constexpr int ab_packets = std::max(1, std::min(4, (simd::registers - 1) / (MR + 1)));
// Rows per block: 8 with 32 registers (8 x 3 packets), 4 with 16 (4 x 3).
inline constexpr int ab_rows = simd::registers >= 32 ? 8 : 4;

template <int MR, bool Accumulate, class T>
void gemm_ab_rows(const T* a, const T* b, T* c, index_t n, const AbOperands& o, const T* bias) {
  constexpr index_t L = lanes<T>;
  constexpr int NP = ab_packets<MR>;
  static_assert(MR * NP + NP + 1 <= simd::registers, "gemm_ab's block must fit the registers");
  const Packet<T> none = pset1_zero<T>();
  index_t j = 0;
  for (; j + NP * L <= n; j += NP * L) gemm_ab_block<MR, NP, Accumulate, false>(a, b + j, c + j, o, bias, none);
  for (; j + L <= n; j += L) gemm_ab_block<MR, 1, Accumulate, false>(a, b + j, c + j, o, bias, none);
  if (j < n) gemm_ab_block<MR, 1, Accumulate, true>(a, b + n - L, c + n - L, o, bias, last_lanes<T>(n - j));
}

// Needs N >= lanes (one whole packet per row); see gemm_ab.
template <bool Accumulate, class T>
void gemm_ab_packets(const T* a, const T* b, T* c, index_t m, index_t n, const AbOperands& o, const T* bias) {
  expect(n >= lanes<T>, "gemm_ab_packets: rows of C narrower than a packet");
  constexpr int MR = ab_rows;
  index_t r = 0;
  for (; r + MR <= m; r += MR) gemm_ab_rows<MR, Accumulate>(a + r * o.ars, b, c + r * o.ldc, n, o, bias ? bias + r : nullptr);
  const T *ar = a + r * o.ars, *br = bias ? bias + r : nullptr;
  T* cr = c + r * o.ldc;
  switch (m - r) {
    case 7: if constexpr (MR > 7) gemm_ab_rows<7, Accumulate>(ar, b, cr, n, o, br); break;
    case 6: if constexpr (MR > 6) gemm_ab_rows<6, Accumulate>(ar, b, cr, n, o, br); break;
    case 5: if constexpr (MR > 5) gemm_ab_rows<5, Accumulate>(ar, b, cr, n, o, br); break;
    case 4: if constexpr (MR > 4) gemm_ab_rows<4, Accumulate>(ar, b, cr, n, o, br); break;
    case 3: gemm_ab_rows<3, Accumulate>(ar, b, cr, n, o, br); break;
    case 2: gemm_ab_rows<2, Accumulate>(ar, b, cr, n, o, br); break;
    case 1: gemm_ab_rows<1, Accumulate>(ar, b, cr, n, o, br); break;
    default: break;
  }
}

// C = A B + bias (bias: one value per row of C, or null).
template <class T>
void gemm_ab(const T* a, const T* b, T* c, index_t m, index_t n, const AbOperands& o, const T* bias) {
  if (n < lanes<T>) {  // too narrow for one packet
    for (index_t r = 0; r < m; ++r)
      for (index_t j = 0; j < n; ++j) {
        T sum = bias ? bias[r] : T(0);
        for (index_t i = 0; i < o.k; ++i) sum += a[r * o.ars + i * o.acs] * b[i * o.ldb + j];
        c[r * o.ldc + j] = sum;
      }
    return;
  }
  gemm_ab_packets<false>(a, b, c, m, n, o, bias);
}

// C += A B.
template <class T>
void gemm_ab_add(const T* a, const T* b, T* c, index_t m, index_t n, const AbOperands& o) {
  if (n < lanes<T>) {
    for (index_t r = 0; r < m; ++r)
      for (index_t j = 0; j < n; ++j) {
        T sum = T(0);
        for (index_t i = 0; i < o.k; ++i) sum += a[r * o.ars + i * o.acs] * b[i * o.ldb + j];
        c[r * o.ldc + j] += sum;
      }
    return;
  }
  gemm_ab_packets<true>(a, b, c, m, n, o, static_cast<const T*>(nullptr));
}

// C = A B^T + bias for A (M, K) and B (N, K) stored row by row: a Linear layer's forward,
// y = x W^T + b, with x and W as they are stored. Eigen's GEMM runs this at about half the
// machine's peak: it packs both operands on every call, and its AVX-512 kernel of 48 x 4 or 8
// values loads more than it multiplies. Here only B^T is packed (pack_abt, once per forward),
// into panels of NP packets of columns; A is read in place. Each tile of MR rows x NP packets
// keeps its MR * NP packets of C in registers through all K steps, each step one load per packet
// of the panel and one broadcast per row of A: 24 multiply-adds per 10 loads with AVX-512.
//
// A panel is (K + 1) rows of np * lanes values: the bias (zeros without one), then row i =
// column i of B's rows p * width .. p * width + np * lanes, zero past N. So every packet the
// kernel loads exists, and columns past N come out of a tile as bias-free zeros, never stored.
template <class T>
inline constexpr int abt_panel_packets = simd::registers >= 32 ? 4 : 2;

template <class T>
inline constexpr index_t abt_panel_width = abt_panel_packets<T> * lanes<T>;

template <class T>
inline index_t abt_panels(index_t n) {
  return (n + abt_panel_width<T> - 1) / abt_panel_width<T>;
}

// Values of the packed B^T of an (N, K) B: every panel as wide as a full one.
template <class T>
inline index_t packed_abt_size(index_t n, index_t k) {
  return abt_panels<T>(n) * (k + 1) * abt_panel_width<T>;
}

// Eigen's packet transpose, as Eigen's own headers compile it: with GCC's warnings that a
// template argument drops the vector type's alignment attribute (PacketBlock is only ever a
// local here), and that the intrinsics Eigen's AVX-512 transpose uses read an undefined
// vector (on purpose; all its lanes are then overwritten), silenced.
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wignored-attributes"
#if !defined(__clang__)  // GCC's warning only
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#endif
template <class T>
using Block = Eigen::internal::PacketBlock<Packet<T>, lanes<T>>;

template <class T>
EIGEN_STRONG_INLINE void transpose(Block<T>& block) {
  Eigen::internal::ptranspose(block);
}
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

// Packs panels [panel_begin, panel_end) of B^T and the bias (may be null) into `packed`.
template <class T>
void pack_abt(const T* b, const T* bias, index_t n, index_t k, T* packed, index_t panel_begin, index_t panel_end) {
  constexpr index_t L = lanes<T>, W = abt_panel_width<T>;
  for (index_t p = panel_begin; p < panel_end; ++p) {
    const index_t col0 = p * W, cols = std::min(W, n - col0), width = (cols + L - 1) / L * L;
    T* out = packed + p * (k + 1) * W;
    for (index_t j = 0; j < width; ++j) out[j] = bias && j < cols ? bias[col0 + j] : T(0);
    out += width;
    // Blocks of lanes x lanes values move as packets, transposed in registers.
    index_t j0 = 0, i0 = 0;
    for (; j0 + L <= cols; j0 += L)
      for (i0 = 0; i0 + L <= k; i0 += L) {
        Block<T> block;
        for (index_t j = 0; j < L; ++j) block.packet[j] = load(b + (col0 + j0 + j) * k + i0);
        transpose<T>(block);
        for (index_t i = 0; i < L; ++i) store(out + (i0 + i) * width + j0, block.packet[i]);
      }
    for (index_t i = 0; i < k; ++i)
      for (index_t j = i < i0 ? j0 : 0; j < width; ++j)
        out[i * width + j] = j < cols ? b[(col0 + j) * k + i] : T(0);
  }
}

template <int MR, int NP, class T>
EIGEN_STRONG_INLINE void abt_tile(const T* a, index_t lda, const T* panel, index_t k, T* c, index_t ldc, index_t cols) {
  using Eigen::internal::pmadd;
  using Eigen::internal::pset1;
  constexpr index_t L = lanes<T>, W = NP * L;
  Packet<T> acc[MR][NP];
  for (int j = 0; j < NP; ++j) {
    const Packet<T> bias = load(panel + j * L);
    for (int r = 0; r < MR; ++r) acc[r][j] = bias;
  }
  const T* bp = panel + W;
  for (index_t i = 0; i < k; ++i, bp += W) {
    Packet<T> bv[NP];
    for (int j = 0; j < NP; ++j) {
      bv[j] = load(bp + j * L);
      keep_in_register(bv[j]);
    }
    for (int r = 0; r < MR; ++r) {
      const Packet<T> av = pset1<Packet<T>>(a[r * lda + i]);
      for (int j = 0; j < NP; ++j) acc[r][j] = pmadd(av, bv[j], acc[r][j]);
    }
  }
  if (cols == W) {
    for (int r = 0; r < MR; ++r)
      for (int j = 0; j < NP; ++j) store(c + r * ldc + j * L, acc[r][j]);
  } else {
    T tile[W];
    for (int r = 0; r < MR; ++r) {
      for (int j = 0; j < NP; ++j) store(tile + j * L, acc[r][j]);
      std::copy_n(tile, cols, c + r * ldc);
    }
  }
}

// Rows [0, m) of one panel: tiles of MR rows, then of 4, 2 and 1.
template <int NP, class T>
void abt_panel(const T* a, index_t lda, index_t m, const T* panel, index_t k, T* c, index_t ldc, index_t cols) {
  constexpr int MR = std::min(12, (simd::registers - NP - 2) / NP);  // accumulators + a panel row + a broadcast
  index_t r = 0;
  for (; r + MR <= m; r += MR) abt_tile<MR, NP>(a + r * lda, lda, panel, k, c + r * ldc, ldc, cols);
  if constexpr (MR > 4)
    for (; r + 4 <= m; r += 4) abt_tile<4, NP>(a + r * lda, lda, panel, k, c + r * ldc, ldc, cols);
  if constexpr (MR > 2)
    for (; r + 2 <= m; r += 2) abt_tile<2, NP>(a + r * lda, lda, panel, k, c + r * ldc, ldc, cols);
  for (; r < m; ++r) abt_tile<1, NP>(a + r * lda, lda, panel, k, c + r * ldc, ldc, cols);
}

// C[rows, columns of panels [panel_begin, panel_end)] = A B^T + bias, from pack_abt's panels.
// A's rows are lda apart, C's ldc; the N columns of C are those of the packed B.
template <class T>
void gemm_abt(const T* a, index_t lda, index_t m, const T* packed, index_t n, index_t k, T* c, index_t ldc,
              index_t panel_begin, index_t panel_end) {
  constexpr index_t L = lanes<T>, W = abt_panel_width<T>;
  // Blocks of 24 rows (a multiple of every tile height) go through all panels before the next
  // block, so A's rows are read from memory once and then from L1.
  constexpr index_t rows_per_block = 24;
  for (index_t r0 = 0; r0 < m; r0 += rows_per_block) {
    const index_t rows = std::min(rows_per_block, m - r0);
    for (index_t p = panel_begin; p < panel_end; ++p) {
      const T* panel = packed + p * (k + 1) * W;
      const index_t cols = std::min(W, n - p * W);
      const T* ar = a + r0 * lda;
      T* cp = c + r0 * ldc + p * W;
      switch ((cols + L - 1) / L) {
        case 1: abt_panel<1>(ar, lda, rows, panel, k, cp, ldc, cols); break;
        case 2: abt_panel<2>(ar, lda, rows, panel, k, cp, ldc, cols); break;
        case 3:
          if constexpr (abt_panel_packets<T> >= 3) abt_panel<3>(ar, lda, rows, panel, k, cp, ldc, cols);
          break;
        default:
          if constexpr (abt_panel_packets<T> >= 4) abt_panel<4>(ar, lda, rows, panel, k, cp, ldc, cols);
          break;
      }
    }
  }
}

namespace reference {

// The definitions, one multiply-add at a time: what the tests compare the kernels with.
// C = A B (+ bias per row), A at strides (ars, acs).
template <class T>
void gemm_ab(const T* a, const T* b, T* c, index_t m, index_t n, const AbOperands& o, const T* bias, bool accumulate) {
  for (index_t r = 0; r < m; ++r)
    for (index_t j = 0; j < n; ++j) {
      T sum = bias ? bias[r] : T(0);
      for (index_t i = 0; i < o.k; ++i) sum += a[r * o.ars + i * o.acs] * b[i * o.ldb + j];
      c[r * o.ldc + j] = accumulate ? c[r * o.ldc + j] + sum : sum;
    }
}
// C = A B^T + bias per column, A (M, K) rows lda apart, B (N, K) row-major.
template <class T>
void gemm_abt(const T* a, index_t lda, index_t m, const T* b, const T* bias, index_t n, index_t k, T* c, index_t ldc) {
  for (index_t r = 0; r < m; ++r)
    for (index_t j = 0; j < n; ++j) {
      T sum = bias ? bias[j] : T(0);
      for (index_t i = 0; i < k; ++i) sum += a[r * lda + i] * b[j * k + i];
      c[r * ldc + j] = sum;
    }
}

}  // namespace reference

}  // namespace ember::kernels

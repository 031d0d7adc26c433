// The register-blocked matrix products of Linear and Conv2d, written once against a vector API
// (load, store, set1, madd, ... on Packet<T> of lanes<T> values, and the ISA's vector register
// count) and compiled once per instruction set: kernels/gemm.hpp includes this file in
// ember::kernels::generic (Eigen's packets: kernels/simd.hpp) and, on x86-64, in
// ember::kernels::avx2 and ember::kernels::avx512 (intrinsics: kernels/isa.hpp), each between
// the pragmas that compile it for that set. Tile sizes come from the set's register count, so
// AVX2 (16 registers) gets tiles that fit, not AVX-512's (32).
//
// No include guard, no includes: this file is a part of kernels/gemm.hpp, and nothing else
// includes it. It declares no lambdas (Clang's pragma does not give them the target).

using simd::add;
using simd::band;
using simd::keep_in_register;
using simd::lanes;
using simd::last_lanes;
using simd::load;
using simd::madd;
using simd::Packet;
using simd::set1;
using simd::store;
using simd::zero;

// Every loop over a tile's rows or packets (a template argument's count) unrolls, whatever the
// optimisation level: GCC's -O2 unrolls only loops that do not grow, and the accumulators of a
// tile stay in registers only when no loop runs over them.
#ifndef EMBER_UNROLL
#define EMBER_UNROLL _Pragma("GCC unroll 16")
#endif

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

template <int MR, int NR, bool Masked, class T>
EIGEN_STRONG_INLINE void abt_step(const T* a, const T* b, const AbtOperands& o, const Packet<T>& tail,
                                  Packet<T> (&acc)[MR][NR]) {
  Packet<T> bv[NR];
  EMBER_UNROLL
  for (int c = 0; c < NR; ++c) {
    bv[c] = Masked ? band(load(b + c * o.ldb), tail) : load(b + c * o.ldb);
    keep_in_register(bv[c]);
  }
  EMBER_UNROLL
  for (int r = 0; r < MR; ++r) {
    Packet<T> av = Masked ? band(load(a + r * o.lda), tail) : load(a + r * o.lda);
    keep_in_register(av);
    EMBER_UNROLL
    for (int c = 0; c < NR; ++c) acc[r][c] = madd(av, bv[c], acc[r][c]);
  }
}

template <int MR, int NR, class T>
void accumulate_abt_block(const T* a, const T* b, const AbtOperands& o, const Packet<T>& tail, T* cv, index_t n) {
  constexpr index_t L = lanes<T>;
  Packet<T> acc[MR][NR];
  EMBER_UNROLL
  for (int r = 0; r < MR; ++r)
    EMBER_UNROLL
    for (int c = 0; c < NR; ++c) acc[r][c] = load(cv + (r * n + c) * L);
  const index_t full = o.k / L * L;
  for (index_t i = 0; i < full; i += L) abt_step<MR, NR, false>(a + i, b + i, o, tail, acc);
  if (full < o.k && o.k >= L) abt_step<MR, NR, true>(a + o.k - L, b + o.k - L, o, tail, acc);
  EMBER_UNROLL
  for (int r = 0; r < MR; ++r)
    EMBER_UNROLL
    for (int c = 0; c < NR; ++c) store(cv + (r * n + c) * L, acc[r][c]);
  if (o.k < L)
    for (index_t i = 0; i < o.k; ++i)
      EMBER_UNROLL
      for (int r = 0; r < MR; ++r)
        EMBER_UNROLL
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

template <int MR, int NP, bool Accumulate, bool Tail, class T>
EIGEN_STRONG_INLINE void gemm_ab_block(const T* a, const T* b, T* c, const AbOperands& o, const T* bias,
                                       const Packet<T>& tail) {
  constexpr index_t L = lanes<T>;
  Packet<T> acc[MR][NP];
  EMBER_UNROLL
  for (int r = 0; r < MR; ++r)
    EMBER_UNROLL
    for (int j = 0; j < NP; ++j)
      acc[r][j] = Accumulate ? (Tail ? set1<T>(T(0)) : load(c + r * o.ldc + j * L))
                             : set1<T>(bias ? bias[r] : T(0));
  for (index_t i = 0; i < o.k; ++i) {
    Packet<T> bv[NP];
    EMBER_UNROLL
    for (int j = 0; j < NP; ++j) {
      bv[j] = load(b + i * o.ldb + j * L);
      keep_in_register(bv[j]);
    }
    const T* ai = a + i * o.acs;
    EMBER_UNROLL
    for (int r = 0; r < MR; ++r) {
      const Packet<T> av = set1<T>(ai[r * o.ars]);
      EMBER_UNROLL
      for (int j = 0; j < NP; ++j) acc[r][j] = madd(av, bv[j], acc[r][j]);
    }
  }
  EMBER_UNROLL
  for (int r = 0; r < MR; ++r)
    EMBER_UNROLL
    for (int j = 0; j < NP; ++j) {
      T* cp = c + r * o.ldc + j * L;
      store(cp, Accumulate && Tail ? add(load(cp), band(acc[r][j], tail)) : acc[r][j]);
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
  const Packet<T> none = zero<T>();
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

// C (M, N) = A B, or C += A B (gemm_ab's operands), for N of at least a packet, as in
// Winograd's 16 products per chunk (kernels/winograd.hpp): gemm_ab's blocks are 8 rows x 3
// packets (4 x 3 with 16 registers), so 64 or 32 channels would end in blocks one packet wide,
// a multiply-add per load. Here the rows per block are chosen so the block spans N: 6 x 4
// packets when 4 divide N (32 registers), 12 x 2 when 2 do (6 x 2 with 16 registers);
// otherwise gemm_ab's own blocks.
static_assert(simd::registers < 32 || (ab_packets<6> == 4 && ab_packets<12> == 2), "ab_product's blocks with 32 registers");
static_assert(simd::registers != 16 || ab_packets<6> == 2, "ab_product's blocks with 16 registers");

template <int MR, bool Accumulate, class T>
void ab_product_rows(const T* a, const T* b, T* c, index_t m, index_t n, const AbOperands& o) {
  static_assert(MR * ab_packets<MR> + ab_packets<MR> + 1 <= simd::registers);
  const index_t full = m / MR * MR;
  for (index_t r = 0; r < full; r += MR)
    gemm_ab_rows<MR, Accumulate>(a + r * o.ars, b, c + r * o.ldc, n, o, static_cast<const T*>(nullptr));
  if (full < m) gemm_ab_packets<Accumulate>(a + full * o.ars, b, c + full * o.ldc, m - full, n, o, static_cast<const T*>(nullptr));
}

template <bool Accumulate, class T>
void ab_product(const T* a, const T* b, T* c, index_t m, index_t n, const AbOperands& o) {
  constexpr index_t L = lanes<T>;
  if (n < L) {  // fewer channels than a packet of this set has lanes (a set wider than the flags')
    if constexpr (Accumulate) return gemm_ab_add(a, b, c, m, n, o);
    else return gemm_ab(a, b, c, m, n, o, static_cast<const T*>(nullptr));
  }
  if constexpr (simd::registers >= 32) {
    if (n % (4 * L) == 0) return ab_product_rows<6, Accumulate>(a, b, c, m, n, o);
    if (n % (2 * L) == 0) return ab_product_rows<12, Accumulate>(a, b, c, m, n, o);
  } else if constexpr (simd::registers == 16) {
    if (n % (2 * L) == 0) return ab_product_rows<6, Accumulate>(a, b, c, m, n, o);
  }
  gemm_ab_packets<Accumulate>(a, b, c, m, n, o, static_cast<const T*>(nullptr));
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

// Packs panels [panel_begin, panel_end) of B^T and the bias (may be null) into `packed`.
template <class T>
void pack_abt(const T* b, const T* bias, index_t n, index_t k, T* packed, index_t panel_begin, index_t panel_end) {
  constexpr index_t B = simd::block_lanes<T>, W = abt_panel_width<T>;
  static_assert(W % B == 0);
  for (index_t p = panel_begin; p < panel_end; ++p) {
    const index_t col0 = p * W, cols = std::min(W, n - col0), width = (cols + lanes<T> - 1) / lanes<T> * lanes<T>;
    T* out = packed + p * (k + 1) * W;
    for (index_t j = 0; j < width; ++j) out[j] = bias && j < cols ? bias[col0 + j] : T(0);
    out += width;
    // Blocks of B x B values move transposed in registers.
    index_t j0 = 0, i0 = 0;
    for (; j0 + B <= cols; j0 += B)
      for (i0 = 0; i0 + B <= k; i0 += B) simd::transpose_block(b + (col0 + j0) * k + i0, k, out + i0 * width + j0, width);
    for (index_t i = 0; i < k; ++i)
      for (index_t j = i < i0 ? j0 : 0; j < width; ++j)
        out[i * width + j] = j < cols ? b[(col0 + j) * k + i] : T(0);
  }
}

template <int MR, int NP, class T>
EIGEN_STRONG_INLINE void abt_tile(const T* a, index_t lda, const T* panel, index_t k, T* c, index_t ldc, index_t cols) {
  constexpr index_t L = lanes<T>, W = NP * L;
  Packet<T> acc[MR][NP];
  EMBER_UNROLL
  for (int j = 0; j < NP; ++j) {
    const Packet<T> bias = load(panel + j * L);
    EMBER_UNROLL
    for (int r = 0; r < MR; ++r) acc[r][j] = bias;
  }
  const T* bp = panel + W;
  for (index_t i = 0; i < k; ++i, bp += W) {
    Packet<T> bv[NP];
    EMBER_UNROLL
    for (int j = 0; j < NP; ++j) {
      bv[j] = load(bp + j * L);
      keep_in_register(bv[j]);
    }
    EMBER_UNROLL
    for (int r = 0; r < MR; ++r) {
      const Packet<T> av = set1<T>(a[r * lda + i]);
      EMBER_UNROLL
      for (int j = 0; j < NP; ++j) acc[r][j] = madd(av, bv[j], acc[r][j]);
    }
  }
  if (cols == W) {
    EMBER_UNROLL
    for (int r = 0; r < MR; ++r)
      EMBER_UNROLL
      for (int j = 0; j < NP; ++j) store(c + r * ldc + j * L, acc[r][j]);
  } else {
    T tile[W];
    EMBER_UNROLL
    for (int r = 0; r < MR; ++r) {
      EMBER_UNROLL
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

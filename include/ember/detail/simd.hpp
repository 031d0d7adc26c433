// Eigen's packets (its portable SIMD vectors: 16 floats with AVX-512, 8 with AVX, 4 with SSE or
// NEON, 1 without SIMD) for the few loops that Eigen's expressions cannot say well: rows
// shorter than a vector, and register-blocked dot products.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "ember/detail/eigen.hpp"
#include "ember/tensor.hpp"

namespace ember::detail::simd {

template <class T>
using Packet = typename Eigen::internal::packet_traits<T>::type;

template <class T>
inline constexpr index_t lanes = Eigen::internal::unpacket_traits<Packet<T>>::size;

template <class T>
inline Packet<T> load(const T* p) {
  return Eigen::internal::ploadu<Packet<T>>(p);
}
template <class T>
inline void store(T* p, const Packet<T>& v) {
  Eigen::internal::pstoreu(p, v);
}

// A packet with every bit set in lanes [begin, end) and zero elsewhere: and-ing with it keeps
// those lanes of a packet and zeroes the rest.
template <class T>
inline Packet<T> lanes_mask(index_t begin, index_t end) {
  static_assert(sizeof(T) == 4 || sizeof(T) == 8, "simd::lanes_mask: float or double");
  using Bits = std::conditional_t<sizeof(T) == 4, std::uint32_t, std::uint64_t>;
  T values[lanes<T>];
  for (index_t l = 0; l < lanes<T>; ++l) {
    const Bits bits = l >= begin && l < end ? ~Bits(0) : Bits(0);
    std::memcpy(&values[l], &bits, sizeof(T));
  }
  return load(values);
}
template <class T>
inline Packet<T> first_lanes(index_t count) {
  return lanes_mask<T>(0, count);
}
template <class T>
inline Packet<T> last_lanes(index_t count) {
  return lanes_mask<T>(lanes<T> - count, lanes<T>);
}

// Copies `count` runs of `run` values, src + r * src_stride to dst + r * run (packed). A run is
// copied in whole packets, whose last one may spill into the runs after it, written later; runs
// whose spill would pass the end of dst are copied exactly, so nothing is written outside
// [dst, dst + count * run). Reads may pass a run's end by up to a packet less one value, so src
// needs that much readable slack after its last run unless that run is copied exactly. Works for
// any type Eigen has packets of (float, double, std::int32_t).
template <class U>
void copy_runs(const U* src, index_t src_stride, U* dst, index_t run, index_t count) {
  constexpr index_t L = lanes<U>;
  const index_t span = (run + L - 1) / L * L, total = run * count;
  const index_t spilling = total < span ? 0 : std::min(count, (total - span) / run + 1);  // runs r < this may spill
  for (index_t r = 0; r < spilling; ++r)
    for (index_t j = 0; j < run; j += L) store(dst + r * run + j, load(src + r * src_stride + j));
  for (index_t r = spilling; r < count; ++r) std::copy_n(src + r * src_stride, run, dst + r * run);
}

// Stops GCC from folding a packet's load into every instruction that uses it: with NR uses that
// is NR loads instead of one, and loads, not multiply-adds, then bound the loop.
template <class P>
EIGEN_STRONG_INLINE void keep_in_register(P& p) {
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
  __asm__("" : "+v"(p));
#else
  (void)p;
#endif
}

// C += A B^T, lane by lane, for A (M, K) and B (N, K) whose rows are contiguous (row strides
// lda and ldb). cv (M, N, lanes) holds, for each (m, n), a packet of partial sums; summing its
// lanes gives C, which the caller does once, after accumulating many products. This is the
// product Eigen does worst: a long K and a short N (under Eigen's 3-packet kernel height) from
// row-major data, as in the gradient of a small convolution's weights, dweight += dy_n col_n^T
// with N = C_in*kh*kw. 4 x 4 register blocks that need no packing run it 2-4x faster.
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

template <int MR, class T>
void accumulate_abt_rows(const T* a, const T* b, const AbtOperands& o, index_t n, const Packet<T>& tail, T* cv) {
  constexpr index_t L = lanes<T>;
  index_t j = 0;
  for (; j + 4 <= n; j += 4) accumulate_abt_block<MR, 4>(a, b + j * o.ldb, o, tail, cv + j * L, n);
  switch (n - j) {
    case 3: accumulate_abt_block<MR, 3>(a, b + j * o.ldb, o, tail, cv + j * L, n); break;
    case 2: accumulate_abt_block<MR, 2>(a, b + j * o.ldb, o, tail, cv + j * L, n); break;
    case 1: accumulate_abt_block<MR, 1>(a, b + j * o.ldb, o, tail, cv + j * L, n); break;
    default: break;
  }
}

template <class T>
void accumulate_abt(const T* a, const T* b, const AbtOperands& o, index_t m, index_t n, T* cv) {
  constexpr index_t L = lanes<T>;
  const Packet<T> tail = last_lanes<T>(o.k % L);
  index_t i = 0;
  for (; i + 4 <= m; i += 4) accumulate_abt_rows<4>(a + i * o.lda, b, o, n, tail, cv + i * n * L);
  switch (m - i) {
    case 3: accumulate_abt_rows<3>(a + i * o.lda, b, o, n, tail, cv + i * n * L); break;
    case 2: accumulate_abt_rows<2>(a + i * o.lda, b, o, n, tail, cv + i * n * L); break;
    case 1: accumulate_abt_rows<1>(a + i * o.lda, b, o, n, tail, cv + i * n * L); break;
    default: break;
  }
}

// C = A B (+ bias per row of C) for a short K: A (M, K), B (K, N) and C (M, N) row-major (row
// strides K, ldb, N). Each block of MR rows and NP packets of columns keeps its MR * NP packets
// of C in registers through the K steps, each step one load per packet of B and one broadcast
// per row of A. Eigen's GEMM, whose kernel is 48 rows tall and which packs both operands, runs
// a convolution's forward with a 9- or 25-value patch at a third of this speed. A last partial
// packet of columns is computed again over the packet that ends at N (its values do not change).
template <int MR, int NP, class T>
EIGEN_STRONG_INLINE void gemm_small_k_block(const T* a, index_t k, const T* b, index_t ldb, T* c, index_t n,
                                            const T* bias) {
  using Eigen::internal::pmadd;
  using Eigen::internal::pset1;
  constexpr index_t L = lanes<T>;
  Packet<T> acc[MR][NP];
  for (int r = 0; r < MR; ++r)
    for (int j = 0; j < NP; ++j) acc[r][j] = pset1<Packet<T>>(bias ? bias[r] : T(0));
  for (index_t i = 0; i < k; ++i) {
    Packet<T> bv[NP];
    for (int j = 0; j < NP; ++j) {
      bv[j] = load(b + i * ldb + j * L);
      keep_in_register(bv[j]);
    }
    for (int r = 0; r < MR; ++r) {
      const Packet<T> av = pset1<Packet<T>>(a[r * k + i]);
      for (int j = 0; j < NP; ++j) acc[r][j] = pmadd(av, bv[j], acc[r][j]);
    }
  }
  for (int r = 0; r < MR; ++r)
    for (int j = 0; j < NP; ++j) store(c + r * n + j * L, acc[r][j]);
}

template <int MR, class T>
void gemm_small_k_rows(const T* a, index_t k, const T* b, index_t ldb, T* c, index_t n, const T* bias) {
  constexpr index_t L = lanes<T>;
  constexpr int NP = MR >= 6 ? 24 / MR : 4;  // MR * NP + NP + 1 <= 32 registers (AVX-512)
  index_t j = 0;
  for (; j + NP * L <= n; j += NP * L) gemm_small_k_block<MR, NP>(a, k, b + j, ldb, c + j, n, bias);
  for (; j + L <= n; j += L) gemm_small_k_block<MR, 1>(a, k, b + j, ldb, c + j, n, bias);
  if (j < n) gemm_small_k_block<MR, 1>(a, k, b + n - L, ldb, c + n - L, n, bias);
}

template <class T>
void gemm_small_k(const T* a, const T* b, index_t ldb, T* c, index_t m, index_t n, index_t k, const T* bias) {
  if (n < lanes<T>) {  // too narrow for one packet
    for (index_t r = 0; r < m; ++r)
      for (index_t j = 0; j < n; ++j) {
        T sum = bias ? bias[r] : T(0);
        for (index_t i = 0; i < k; ++i) sum += a[r * k + i] * b[i * ldb + j];
        c[r * n + j] = sum;
      }
    return;
  }
  index_t r = 0;
  for (; r + 8 <= m; r += 8) gemm_small_k_rows<8>(a + r * k, k, b, ldb, c + r * n, n, bias ? bias + r : nullptr);
  const T* br = bias ? bias + r : nullptr;
  switch (m - r) {
    case 7: gemm_small_k_rows<7>(a + r * k, k, b, ldb, c + r * n, n, br); break;
    case 6: gemm_small_k_rows<6>(a + r * k, k, b, ldb, c + r * n, n, br); break;
    case 5: gemm_small_k_rows<5>(a + r * k, k, b, ldb, c + r * n, n, br); break;
    case 4: gemm_small_k_rows<4>(a + r * k, k, b, ldb, c + r * n, n, br); break;
    case 3: gemm_small_k_rows<3>(a + r * k, k, b, ldb, c + r * n, n, br); break;
    case 2: gemm_small_k_rows<2>(a + r * k, k, b, ldb, c + r * n, n, br); break;
    case 1: gemm_small_k_rows<1>(a + r * k, k, b, ldb, c + r * n, n, br); break;
    default: break;
  }
}

}  // namespace ember::detail::simd

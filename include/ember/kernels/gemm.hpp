// The register-blocked matrix products of Linear and Conv2d (kernels/gemm_isa.hpp), compiled for
// each instruction set the program carries and called through the dispatchers below, which run
// the set kernels::isa() names (kernels/isa.hpp); kernels::reference beside them.
#pragma once

#include <algorithm>
#include <cstdint>

#include "ember/kernels/isa.hpp"
#include "ember/kernels/simd.hpp"

// The operands of accumulate_abt (A (M, K) and B (N, K), rows lda and ldb apart) and of gemm_ab
// (A at strides ars, acs; B and C rows ldb and ldc apart; K). See kernels/gemm_isa.hpp. Their
// namespace has no functions, so argument-dependent lookup of a call inside one instruction
// set's kernels finds nothing but that set's own functions (not the dispatchers below).
namespace ember::kernels::operands {
struct AbtOperands {
  index_t lda, ldb, k;
};
struct AbOperands {
  index_t ars, acs, ldb, ldc, k;
};
}  // namespace ember::kernels::operands

namespace ember::kernels {
using operands::AbOperands;
using operands::AbtOperands;
}  // namespace ember::kernels

#define EMBER_ISA_BODY "ember/kernels/gemm_isa.hpp"
#include "ember/kernels/foreach_isa.hpp"

namespace ember::kernels {

// Lanes of a packet of T in the kernels that run now: accumulate_abt's partial sums are packets
// of this width, and gemm_ab computes rows at least this wide in packets.
template <class T>
index_t lanes_now() {
  EMBER_KERNELS_DISPATCH_CALL(lanes<T>)
}

// Linear's backward (dx = dy W, dweight += dy^T x) through gemm_ab, measured against Eigen's GEMM
// in the layer (bench linear_784_128/forward_backward, 2026-12-02, AMD EPYC): with AVX-512 the
// kernel wins; in an AVX2 build (-march=haswell, 16 registers) Eigen was faster at batch 256 and
// 1024 (1 thread: 1,022 against 1,481 us and 4,702 against 5,941 us), so there Linear's backward
// uses Eigen. Its forward (gemm_abt) matched Eigen on AVX2 and is kept. When the kernels run on a
// wider set than the flags gave Eigen (a build without -march), they win in every case.
inline bool gemm_ab_wins_on_linear_backward() { return isa() == Isa::avx512 || isa() > compiled_isa; }

// C = A B + bias (bias: one value per row of C, or null).
template <class T>
void gemm_ab(const T* a, const T* b, T* c, index_t m, index_t n, const AbOperands& o, const T* bias) {
  EMBER_KERNELS_DISPATCH_CALL(gemm_ab(a, b, c, m, n, o, bias))
}

// C += A B.
template <class T>
void gemm_ab_add(const T* a, const T* b, T* c, index_t m, index_t n, const AbOperands& o) {
  EMBER_KERNELS_DISPATCH_CALL(gemm_ab_add(a, b, c, m, n, o))
}

// C = A B or C += A B (Winograd's products; fastest for N a multiple of 2 or 4 packets).
template <bool Accumulate, class T>
void ab_product(const T* a, const T* b, T* c, index_t m, index_t n, const AbOperands& o) {
  EMBER_KERNELS_DISPATCH_CALL(ab_product<Accumulate>(a, b, c, m, n, o))
}

// cv (M, N, lanes_now<T>()) += A B^T lane by lane.
template <class T>
void accumulate_abt(const T* a, const T* b, const AbtOperands& o, index_t m, index_t n, T* cv) {
  EMBER_KERNELS_DISPATCH_CALL(accumulate_abt(a, b, o, m, n, cv))
}

// Linear's forward: the panels of B^T (their count and size, then pack_abt), and C = A B^T + bias
// from them (gemm_abt). The packing depends on the instruction set: pack and multiply under the
// same kernels::isa().
template <class T>
index_t abt_panels(index_t n) {
  EMBER_KERNELS_DISPATCH_CALL(abt_panels<T>(n))
}
template <class T>
index_t abt_panel_width() {
  EMBER_KERNELS_DISPATCH_CALL(abt_panel_width<T>)
}
template <class T>
index_t packed_abt_size(index_t n, index_t k) {
  EMBER_KERNELS_DISPATCH_CALL(packed_abt_size<T>(n, k))
}
template <class T>
void pack_abt(const T* b, const T* bias, index_t n, index_t k, T* packed, index_t panel_begin, index_t panel_end) {
  EMBER_KERNELS_DISPATCH_CALL(pack_abt(b, bias, n, k, packed, panel_begin, panel_end))
}
template <class T>
void gemm_abt(const T* a, index_t lda, index_t m, const T* packed, index_t n, index_t k, T* c, index_t ldc,
              index_t panel_begin, index_t panel_end) {
  EMBER_KERNELS_DISPATCH_CALL(gemm_abt(a, lda, m, packed, n, k, c, ldc, panel_begin, panel_end))
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

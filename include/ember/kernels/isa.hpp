// The instruction set the hot kernels run on, chosen when the program runs, not when it is built.
//
// ember's kernels are written once (kernels/gemm_isa.hpp) against a small vector API and compiled
// for several instruction sets in the same program: the one the compiler was told to use (its
// flags: SSE2 for a plain x86-64 build, AVX2 with -march=haswell, AVX-512 with -march=native on
// this machine), and, on x86-64 with GCC or Clang, AVX2+FMA and AVX-512 when the flags do not
// already give them. Each kernel call then goes to the best of these that the CPU supports. So a
// user's `-O2` or CMake `Release` build without -march runs the products of Linear and Conv2d at
// the speed of a -march=native build (docs/performance.md has the side-by-side timings).
//
// The selection can be pinned for a comparison or a test: the environment variable EMBER_ISA
// (generic, avx2 or avx512), read once at the first kernel call, or kernels::set_isa. Asking for
// more than the CPU has is an Error. EMBER_NO_DISPATCH (a compile definition) compiles the
// kernels for the flags alone.
//
// This is the approach of Google's Highway (foreach_target.h) without its generality: the kernel
// file is included once per instruction set, in its own namespace, between `#pragma GCC target`
// (Clang: `#pragma clang attribute`) lines that compile the functions in it for that set.
#pragma once

#include <cstdlib>
#include <cstring>
#include <string>

#include "ember/error.hpp"
#include "ember/kernels/simd.hpp"

#if !defined(EMBER_NO_DISPATCH) && (defined(__GNUC__) || defined(__clang__)) && defined(__x86_64__)
#define EMBER_KERNELS_DISPATCH 1
#include <immintrin.h>
#else
#define EMBER_KERNELS_DISPATCH 0
#endif

namespace ember::kernels {

// Instruction sets, in order: each one's kernels need everything of the ones before it.
enum class Isa { generic, avx2, avx512 };

inline const char* name(Isa isa) {
  switch (isa) {
    case Isa::avx2: return "avx2";
    case Isa::avx512: return "avx512";
    default: return "generic";
  }
}

// What the compiler's flags give the kernels compiled without a target of their own.
#if defined(__AVX512F__)
inline constexpr Isa compiled_isa = Isa::avx512;
#elif defined(__AVX2__) && defined(__FMA__)
inline constexpr Isa compiled_isa = Isa::avx2;
#else
inline constexpr Isa compiled_isa = Isa::generic;
#endif

// The best instruction set whose kernels this program has and this CPU runs.
inline Isa cpu_isa() {
#if EMBER_KERNELS_DISPATCH
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f")) return Isa::avx512;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return std::max(Isa::avx2, compiled_isa);
#endif
  return compiled_isa;
}

namespace detail {

inline Isa parse_isa(const char* text) {
  for (Isa isa : {Isa::generic, Isa::avx2, Isa::avx512})
    if (std::strcmp(text, name(isa)) == 0) return isa;
  throw Error(std::string("EMBER_ISA: unknown instruction set '") + text + "' (expected generic, avx2 or avx512)");
}

inline Isa checked_isa(Isa isa, const char* who) {
  if (isa > cpu_isa())
    throw Error(std::string(who) + ": this CPU (or this build) has no " + name(isa) + " kernels; the best is " +
                name(cpu_isa()));
  return std::max(isa, compiled_isa);  // below the flags' own set, the flags' kernels are all there is
}

inline Isa& isa_slot() {
  static Isa isa = [] {
    const char* pinned = std::getenv("EMBER_ISA");
    return pinned && *pinned ? checked_isa(parse_isa(pinned), "EMBER_ISA") : cpu_isa();
  }();
  return isa;
}

}  // namespace detail

// The instruction set the kernels run on now.
inline Isa isa() { return detail::isa_slot(); }

// Runs the kernels on `isa` from now on (a comparison, a test); an Error if the CPU lacks it.
// Not thread-safe: call it between steps, not during one.
inline void set_isa(Isa isa) { detail::isa_slot() = detail::checked_isa(isa, "kernels::set_isa"); }

}  // namespace ember::kernels

#if EMBER_KERNELS_DISPATCH
// Compiles the functions defined between EMBER_ISA_BEGIN(...) and EMBER_ISA_END for the
// instruction set named by the target string.
#if defined(__clang__)
#define EMBER_ISA_PRAGMA(x) _Pragma(#x)
#define EMBER_ISA_BEGIN(isa) EMBER_ISA_PRAGMA(clang attribute push(__attribute__((target(isa))), apply_to = function))
#define EMBER_ISA_END _Pragma("clang attribute pop")
#else
#define EMBER_ISA_PRAGMA(x) _Pragma(#x)
#define EMBER_ISA_BEGIN(isa) _Pragma("GCC push_options") EMBER_ISA_PRAGMA(GCC target(isa))
#define EMBER_ISA_END _Pragma("GCC pop_options")
#endif
#define EMBER_ISA_TARGET_AVX2 "avx2,fma"
#define EMBER_ISA_TARGET_AVX512 "avx512f,avx2,fma"
// The sets compiled besides the flags' own (kernels/foreach_isa.hpp): those the flags do not give.
#if !defined(__AVX2__) || !defined(__FMA__)
#define EMBER_KERNELS_AVX2 1
#endif
#if !defined(__AVX512F__)
#define EMBER_KERNELS_AVX512 1
#endif

// The vector API of kernels/gemm_isa.hpp for AVX2+FMA (8 floats, 16 registers) and AVX-512
// (16 floats, 32 registers): the same names as the generic one in kernels/simd.hpp.
#define EMBER_ISA_VECTOR_API(PS, PD, FLOATS, DOUBLES, REGISTERS, X)                                         \
  template <class T>                                                                                        \
  struct PacketOf;                                                                                          \
  template <>                                                                                               \
  struct PacketOf<float> {                                                                                  \
    using type = PS;                                                                                        \
  };                                                                                                        \
  template <>                                                                                               \
  struct PacketOf<double> {                                                                                 \
    using type = PD;                                                                                        \
  };                                                                                                        \
  template <class T>                                                                                        \
  using Packet = typename PacketOf<T>::type;                                                                \
  template <class T>                                                                                        \
  inline constexpr index_t lanes = std::is_same_v<T, float> ? FLOATS : DOUBLES;                             \
  inline constexpr int registers = REGISTERS;                                                               \
  inline PS load(const float* p) { return X##_loadu_ps(p); }                                                \
  inline PD load(const double* p) { return X##_loadu_pd(p); }                                               \
  inline void store(float* p, PS v) { X##_storeu_ps(p, v); }                                                \
  inline void store(double* p, PD v) { X##_storeu_pd(p, v); }                                               \
  template <class T>                                                                                        \
  inline Packet<T> set1(T x) {                                                                              \
    if constexpr (std::is_same_v<T, float>) return X##_set1_ps(x);                                          \
    else return X##_set1_pd(x);                                                                             \
  }                                                                                                         \
  template <class T>                                                                                        \
  inline Packet<T> zero() {                                                                                 \
    return set1<T>(T(0));                                                                                   \
  }                                                                                                         \
  inline PS madd(PS a, PS b, PS c) { return X##_fmadd_ps(a, b, c); }                                       \
  inline PD madd(PD a, PD b, PD c) { return X##_fmadd_pd(a, b, c); }                                       \
  inline PS add(PS a, PS b) { return X##_add_ps(a, b); }                                                    \
  inline PD add(PD a, PD b) { return X##_add_pd(a, b); }                                                    \
  inline PS sub(PS a, PS b) { return X##_sub_ps(a, b); }                                                    \
  inline PD sub(PD a, PD b) { return X##_sub_pd(a, b); }                                                    \
  inline PS mul(PS a, PS b) { return X##_mul_ps(a, b); }                                                    \
  inline PD mul(PD a, PD b) { return X##_mul_pd(a, b); }                                                    \
  inline PS div(PS a, PS b) { return X##_div_ps(a, b); }                                                    \
  inline PD div(PD a, PD b) { return X##_div_pd(a, b); }                                                    \
  inline PS max(PS a, PS b) { return X##_max_ps(a, b); }                                                    \
  inline PD max(PD a, PD b) { return X##_max_pd(a, b); }                                                    \
  inline PS sqrt(PS a) { return X##_sqrt_ps(a); }                                                           \
  inline PD sqrt(PD a) { return X##_sqrt_pd(a); }                                                           \
  /* Lanes [begin, end) of a packet of T set to all ones, the others to zero: and-ing keeps them. */        \
  template <class T>                                                                                        \
  inline Packet<T> lanes_mask(index_t begin, index_t end) {                                                 \
    using Bits = std::conditional_t<sizeof(T) == 4, std::uint32_t, std::uint64_t>;                          \
    T values[lanes<T>];                                                                                     \
    for (index_t l = 0; l < lanes<T>; ++l) {                                                                \
      const Bits bits = l >= begin && l < end ? ~Bits(0) : Bits(0);                                         \
      std::memcpy(&values[l], &bits, sizeof(T));                                                            \
    }                                                                                                       \
    return load(values);                                                                                    \
  }                                                                                                         \
  template <class T>                                                                                        \
  inline Packet<T> last_lanes(index_t count) {                                                              \
    return lanes_mask<T>(lanes<T> - count, lanes<T>);                                                       \
  }                                                                                                         \
  template <class P>                                                                                        \
  inline void keep_in_register(P& p) {                                                                      \
    __asm__("" : "+v"(p));                                                                                  \
  }

// dst (B, B) = src (B, B)^T, rows lds and ldd apart, for B = block_lanes<T>: 8 x 8 floats (16 x
// 16 with AVX-512) or 4 x 4 doubles in AVX registers, defined in AVX2's namespace and in AVX-512's
// so that their kernels inline them (a call across target attributes is not inlined; and GCC at -O2 called it
// from pack_abt's loop, 5.8% of the seed MLP's epoch, until it was forced inline).
#define EMBER_ISA_INLINE inline __attribute__((always_inline))
#define EMBER_ISA_TRANSPOSE_BLOCK                                                                           \
EMBER_ISA_INLINE void transpose_8x8(const float* src, index_t lds, float* dst, index_t ldd) {                 \
  __m256 r[8], t[8], u[8];                                                                                  \
  for (int i = 0; i < 8; ++i) r[i] = _mm256_loadu_ps(src + i * lds);                                        \
  for (int i = 0; i < 8; i += 2) {  /* t: pairs of rows interleaved within 128-bit halves */                \
    t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);                                                              \
    t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);                                                          \
  }                                                                                                         \
  for (int i = 0; i < 8; i += 4) {  /* u: 4-row columns within halves */                                    \
    u[i] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(1, 0, 1, 0));                                      \
    u[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(3, 2, 3, 2));                                  \
    u[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(1, 0, 1, 0));                              \
    u[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(3, 2, 3, 2));                              \
  }                                                                                                         \
  for (int i = 0; i < 4; ++i) {  /* the halves of rows 0-3 and 4-7 joined */                                \
    _mm256_storeu_ps(dst + i * ldd, _mm256_permute2f128_ps(u[i], u[i + 4], 0x20));                          \
    _mm256_storeu_ps(dst + (i + 4) * ldd, _mm256_permute2f128_ps(u[i], u[i + 4], 0x31));                    \
  }                                                                                                         \
}                                                                                                           \
                                                                                                            \
EMBER_ISA_INLINE void transpose_block(const double* src, index_t lds, double* dst, index_t ldd) {  /* 4 x 4 */                  \
  __m256d r[4];                                                                                             \
  for (int i = 0; i < 4; ++i) r[i] = _mm256_loadu_pd(src + i * lds);                                        \
  const __m256d t0 = _mm256_unpacklo_pd(r[0], r[1]), t1 = _mm256_unpackhi_pd(r[0], r[1]),                   \
                t2 = _mm256_unpacklo_pd(r[2], r[3]), t3 = _mm256_unpackhi_pd(r[2], r[3]);                   \
  _mm256_storeu_pd(dst, _mm256_permute2f128_pd(t0, t2, 0x20));                                              \
  _mm256_storeu_pd(dst + ldd, _mm256_permute2f128_pd(t1, t3, 0x20));                                        \
  _mm256_storeu_pd(dst + 2 * ldd, _mm256_permute2f128_pd(t0, t2, 0x31));                                    \
  _mm256_storeu_pd(dst + 3 * ldd, _mm256_permute2f128_pd(t1, t3, 0x31));                                    \
}

EMBER_ISA_BEGIN(EMBER_ISA_TARGET_AVX2)
namespace ember::kernels::avx2::simd {
EMBER_ISA_VECTOR_API(__m256, __m256d, 8, 4, 16, _mm256)
inline __m256 band(__m256 a, __m256 b) { return _mm256_and_ps(a, b); }
inline __m256d band(__m256d a, __m256d b) { return _mm256_and_pd(a, b); }

EMBER_ISA_TRANSPOSE_BLOCK
template <class T>
inline constexpr index_t block_lanes = std::is_same_v<T, float> ? 8 : 4;
EMBER_ISA_INLINE void transpose_block(const float* src, index_t lds, float* dst, index_t ldd) {
  transpose_8x8(src, lds, dst, ldd);
}
}  // namespace ember::kernels::avx2::simd
EMBER_ISA_END

EMBER_ISA_BEGIN(EMBER_ISA_TARGET_AVX512)
namespace ember::kernels::avx512::simd {
EMBER_ISA_VECTOR_API(__m512, __m512d, 16, 8, 32, _mm512)
// AVX-512F has no floating-point and (that is AVX-512DQ): the same bits through integers.
inline __m512 band(__m512 a, __m512 b) {
  return _mm512_castsi512_ps(_mm512_and_si512(_mm512_castps_si512(a), _mm512_castps_si512(b)));
}
inline __m512d band(__m512d a, __m512d b) {
  return _mm512_castsi512_pd(_mm512_and_si512(_mm512_castpd_si512(a), _mm512_castpd_si512(b)));
}
EMBER_ISA_TRANSPOSE_BLOCK
template <class T>
inline constexpr index_t block_lanes = std::is_same_v<T, float> ? 16 : 4;
// 16 x 16 floats: 4 x 4 blocks transposed within each 128-bit lane (unpack, shuffle), then the
// lanes moved across registers (two shuffle_f32x4): row 4k + c of the result is lane k of the
// c-th register of each group of four. Half the shuffles a value of the 8 x 8 AVX transpose takes.
EMBER_ISA_INLINE void transpose_block(const float* src, index_t lds, float* dst, index_t ldd) {
  __m512 r[16], t[16], u[16];
  for (int i = 0; i < 16; ++i) r[i] = _mm512_loadu_ps(src + i * lds);
  for (int i = 0; i < 16; i += 2) {
    t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
  }
  for (int i = 0; i < 16; i += 4) {  // u[i + c], lane k: column 4k + c of rows i .. i + 3
    u[i] = _mm512_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(1, 0, 1, 0));
    u[i + 1] = _mm512_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(3, 2, 3, 2));
    u[i + 2] = _mm512_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(1, 0, 1, 0));
    u[i + 3] = _mm512_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(3, 2, 3, 2));
  }
  for (int c = 0; c < 4; ++c) {
    const __m512 a0 = _mm512_shuffle_f32x4(u[c], u[4 + c], 0x44), a1 = _mm512_shuffle_f32x4(u[c], u[4 + c], 0xEE);
    const __m512 b0 = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0x44),
                 b1 = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0xEE);
    _mm512_storeu_ps(dst + c * ldd, _mm512_shuffle_f32x4(a0, b0, 0x88));
    _mm512_storeu_ps(dst + (4 + c) * ldd, _mm512_shuffle_f32x4(a0, b0, 0xDD));
    _mm512_storeu_ps(dst + (8 + c) * ldd, _mm512_shuffle_f32x4(a1, b1, 0x88));
    _mm512_storeu_ps(dst + (12 + c) * ldd, _mm512_shuffle_f32x4(a1, b1, 0xDD));
  }
}
}  // namespace ember::kernels::avx512::simd
EMBER_ISA_END
#undef EMBER_ISA_VECTOR_API
#undef EMBER_ISA_TRANSPOSE_BLOCK
#undef EMBER_ISA_INLINE
#endif

// Runs `call` (a kernel of kernels/*_isa.hpp with its arguments) in the namespace of the
// instruction set kernels::isa() names; a set the flags already give runs the generic copy.
#if defined(EMBER_KERNELS_AVX512)
#define EMBER_KERNELS_CASE_AVX512(...) \
  case ::ember::kernels::Isa::avx512: return ::ember::kernels::avx512::__VA_ARGS__;
#else
#define EMBER_KERNELS_CASE_AVX512(...)
#endif
#if defined(EMBER_KERNELS_AVX2)
#define EMBER_KERNELS_CASE_AVX2(...) \
  case ::ember::kernels::Isa::avx2: return ::ember::kernels::avx2::__VA_ARGS__;
#else
#define EMBER_KERNELS_CASE_AVX2(...)
#endif
#define EMBER_KERNELS_DISPATCH_CALL(...)               \
  switch (::ember::kernels::isa()) {                   \
    EMBER_KERNELS_CASE_AVX512(__VA_ARGS__)             \
    EMBER_KERNELS_CASE_AVX2(__VA_ARGS__)               \
    default: return ::ember::kernels::generic::__VA_ARGS__; \
  }

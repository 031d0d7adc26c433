// The SIMD primitives of ember's kernels: Eigen's packets (its portable SIMD vectors: 16 floats
// with AVX-512, 8 with AVX, 4 with SSE or NEON, 1 without SIMD), masks, short-run copies, and the
// register budget of the target ISA that the register-blocked kernels size their tiles from.
// Preconditions a kernel cannot meet by itself (readable slack past a buffer, minimum widths) are
// checked by kernels::expect in builds with EMBER_CHECK_KERNELS (ember's tests), and cost nothing
// elsewhere.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "ember/detail/eigen.hpp"
#include "ember/error.hpp"
#include "ember/tensor.hpp"

namespace ember::kernels {

#if defined(EMBER_CHECK_KERNELS)
inline constexpr bool checked = true;
#else
inline constexpr bool checked = false;
#endif

// A kernel's precondition: an Error in checked builds, nothing otherwise.
inline void expect(bool ok, const char* what) {
  if constexpr (checked)
    if (!ok) throw Error(std::string("ember kernel precondition failed: ") + what);
  (void)ok, (void)what;
}

}  // namespace ember::kernels

namespace ember::kernels::simd {

// Vector registers of the target ISA (32 with AVX-512, 16 with AVX2 and SSE): a register-blocked
// tile of A x B packets of accumulators, plus the packets it loads per step, must fit in them,
// or the compiler spills accumulators to the stack on every step.
inline constexpr int registers = EIGEN_ARCH_DEFAULT_NUMBER_OF_REGISTERS;


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
inline Packet<T> set1(T x) {
  return Eigen::internal::pset1<Packet<T>>(x);
}
template <class T>
inline Packet<T> zero() {
  return set1<T>(T(0));
}
template <class T>
inline Packet<T> pset1_zero() {
  return zero<T>();
}
// a * b + c, a + b, a & b (bits), lane by lane.
template <class P>
inline P madd(const P& a, const P& b, const P& c) {
  return Eigen::internal::pmadd(a, b, c);
}
template <class P>
inline P add(const P& a, const P& b) {
  return Eigen::internal::padd(a, b);
}
template <class P>
inline P band(const P& a, const P& b) {
  return Eigen::internal::pand(a, b);
}
template <class P>
inline P sub(const P& a, const P& b) {
  return Eigen::internal::psub(a, b);
}
template <class P>
inline P mul(const P& a, const P& b) {
  return Eigen::internal::pmul(a, b);
}
template <class P>
inline P div(const P& a, const P& b) {
  return Eigen::internal::pdiv(a, b);
}
// The larger of a and b, lane by lane: Eigen's pmax, which is the instruction's (b where either
// is NaN with SSE and AVX); Eigen's own Array::max is the same.
template <class P>
inline P max(const P& a, const P& b) {
  return Eigen::internal::pmax(a, b);
}
template <class P>
inline P sqrt(const P& a) {
  return Eigen::internal::psqrt(a);
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
// needs that much readable slack after its last run unless that run is copied exactly (src_end:
// one past the readable memory, checked in checked builds). Works for any type Eigen has packets
// of (float, double, std::int32_t).
template <class U>
void copy_runs(const U* src, index_t src_stride, U* dst, index_t run, index_t count, const U* src_end) {
  constexpr index_t L = lanes<U>;
  const index_t span = (run + L - 1) / L * L, total = run * count;

  const index_t spilling = total < span ? 0 : std::min(count, (total - span) / run + 1);  // runs r < this may spill
  expect(spilling == 0 || src + (spilling - 1) * src_stride + span <= src_end,
         "copy_runs: src has less readable slack than a packet after a run copied in packets");
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

// dst (B, B) = src (B, B)^T for B = block_lanes<T>, rows lds and ldd apart: one lanes x lanes
// block through registers.
template <class T>
inline constexpr index_t block_lanes = lanes<T>;

template <class T>
EIGEN_STRONG_INLINE void transpose_block(const T* src, index_t lds, T* dst, index_t ldd) {
  Block<T> block;
  for (index_t j = 0; j < lanes<T>; ++j) block.packet[j] = load(src + j * lds);
  transpose<T>(block);
  for (index_t i = 0; i < lanes<T>; ++i) store(dst + i * ldd, block.packet[i]);
}
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

}  // namespace ember::kernels::simd

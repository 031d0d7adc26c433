// Eigen's packets (its portable SIMD vectors: 16 floats with AVX-512, 8 with AVX, 4 with SSE or
// NEON, 1 without SIMD) for the few loops that Eigen's expressions cannot say well: rows
// shorter than a vector, and register-blocked dot products.
#pragma once

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

// A packet whose first `count` lanes have every bit set and whose other lanes are zero: and-ing
// with it keeps the first `count` values of a packet and zeroes the rest.
template <class T>
inline Packet<T> first_lanes(index_t count) {
  static_assert(sizeof(T) == 4 || sizeof(T) == 8, "simd::first_lanes: float or double");
  using Bits = std::conditional_t<sizeof(T) == 4, std::uint32_t, std::uint64_t>;
  T values[lanes<T>];
  for (index_t l = 0; l < lanes<T>; ++l) {
    const Bits bits = l < count ? ~Bits(0) : Bits(0);
    std::memcpy(&values[l], &bits, sizeof(T));
  }
  return load(values);
}

}  // namespace ember::detail::simd

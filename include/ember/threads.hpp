// Threads and the one Eigen setting ember makes for speed.
#pragma once

#include <algorithm>

#include <Eigen/Core>
#if defined(_OPENMP)
#include <omp.h>
#endif

namespace ember {

// Threads for Eigen's GEMM and for ember's own loops over the batch (OpenMP). Without
// OpenMP ember runs on one thread and this does nothing.
inline void set_num_threads(int n) {
  n = std::max(n, 1);
#if defined(_OPENMP)
  omp_set_num_threads(n);
#endif
  Eigen::setNbThreads(n);
}
inline int get_num_threads() {
#if defined(_OPENMP)
  return omp_get_max_threads();
#else
  return 1;
#endif
}

namespace detail {

// The calling thread's index inside an OpenMP team (0 outside one, or without OpenMP).
inline int thread_index() {
#if defined(_OPENMP)
  return omp_get_thread_num();
#else
  return 0;
#endif
}

// Eigen 3.4 sizes its GEMM blocks from the L1 size it detects. On CPUs that report a 48 KB
// L1d (AMD Zen 4, recent Xeons) it picks blocks that make the (64 x 784) * (784 x 128)
// product of the seed MLP ~10x slower than with 32 KB blocks. ember therefore caps the L1
// size Eigen plans for at 32 KB, once, before main(). Define EMBER_KEEP_EIGEN_CACHE_SIZES
// to leave Eigen's own choice alone. See docs/design.md.
inline bool cap_eigen_l1_cache() {
#if !defined(EMBER_KEEP_EIGEN_CACHE_SIZES)
  std::ptrdiff_t l1, l2, l3;
  Eigen::internal::manage_caching_sizes(Eigen::GetAction, &l1, &l2, &l3);
  constexpr std::ptrdiff_t cap = 32 * 1024;
  if (l1 > cap) Eigen::setCpuCacheSizes(cap, l2, l3);
#endif
  return true;
}
inline const bool eigen_cache_capped = cap_eigen_l1_cache();

}  // namespace detail
}  // namespace ember

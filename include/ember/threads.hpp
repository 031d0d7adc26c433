// Threads, and the one Eigen setting a program may make for speed (limit_eigen_l1_cache).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "ember/detail/eigen.hpp"
#if defined(_OPENMP)
#include <omp.h>
#endif
#if defined(__SSE__) || defined(_M_X64)
#include <xmmintrin.h>
#define EMBER_HAVE_MXCSR 1
#endif

namespace ember {

using index_t = std::int64_t;

// Threads for ember's loops (OpenMP): over the batch, over GEMM row blocks, over elements.
// ember splits the work itself and runs each Eigen product on one thread (EIGEN_DONT_PARALLELIZE,
// see detail/eigen.hpp). Without OpenMP ember runs on one thread.
inline void set_num_threads(int n) {
  n = std::max(n, 1);
#if defined(_OPENMP)
  omp_set_num_threads(n);
#endif
}
inline int get_num_threads() {
#if defined(_OPENMP)
  return omp_get_max_threads();
#else
  return 1;
#endif
}

// torch.set_flush_denormal: flush denormal floats to zero (FTZ) and read denormal inputs as zero
// (DAZ), on this thread and on every OpenMP worker (the setting is per thread). Adam's moments
// decay into the denormal range on pixels that are always zero (MNIST's borders), and
// arithmetic on denormals is slow on x86; the examples and the epoch benchmark turn this on for
// training. Returns false where the CPU has no such mode.
inline bool set_flush_denormal(bool on) {
#if defined(EMBER_HAVE_MXCSR)
  const auto apply = [on] {
    constexpr unsigned ftz_daz = 0x8040;
    const unsigned csr = _mm_getcsr();
    _mm_setcsr(on ? (csr | ftz_daz) : (csr & ~ftz_daz));
  };
  apply();
#if defined(_OPENMP)
#pragma omp parallel
  apply();
#endif
  return true;
#else
  (void)on;
  return false;
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

// OpenMP's static schedule: thread t of nt takes [begin, end) of [0, n), the first n % nt threads
// one more than the others (libgomp's split, so results match a `parallel for schedule(static)`).
inline void static_block(index_t n, index_t t, index_t nt, index_t& begin, index_t& end) {
  const index_t q = n / nt, r = n % nt;
  begin = t * q + std::min(t, r);
  end = begin + q + (t < r ? 1 : 0);
}

// Runs f(t, nt) on each thread t of a team of nt, or f(0, 1) on the calling thread when
// `parallel` is false, one thread is set, or a team is already running. A region is only ever
// entered with the process's thread count: libgomp makes a new team (heap allocations, and a
// wake-up that costs more than small work) whenever a region's team size differs from the last
// one's, a team of one included, so small work runs here rather than in a region `if(false)`.
template <class F>
void on_threads(bool parallel, F&& f) {
#if defined(_OPENMP)
  const int threads = get_num_threads();
  if (parallel && threads > 1 && !omp_in_parallel()) {
#pragma omp parallel num_threads(threads)
    f(static_cast<index_t>(omp_get_thread_num()), static_cast<index_t>(omp_get_num_threads()));
    return;
  }
#endif
  (void)parallel;
  f(index_t{0}, index_t{1});
}

// f(begin, end) over [0, n) in static blocks, one per thread (on the calling thread when
// `parallel` is false).
template <class F>
void parallel_for(index_t n, bool parallel, F&& f) {
  on_threads(parallel && n > 1, [&](index_t t, index_t nt) {
    index_t begin, end;
    static_block(n, t, nt, begin, end);
    if (begin < end) f(begin, end);
  });
}

// Splits [0, n) into one contiguous block per thread (fewer when a block would be smaller than
// min_block; one when the whole job is smaller than parallel_min_work, as waking the other
// threads costs more than it saves) and calls f(begin, end) for each, in parallel. The blocks depend only on n and the
// thread count, so results are reproducible for a fixed thread count. Eigen products inside f
// run single-threaded (Eigen sees the enclosing parallel region).
inline index_t parallel_min_work = index_t{1} << 21;  // multiply-adds (or elements) of one job

template <class F>
void parallel_blocks(index_t n, index_t min_block, index_t work, F&& f) {
  const index_t blocks = work < parallel_min_work
                             ? 1
                             : std::max<index_t>(1, std::min<index_t>(get_num_threads(), n / std::max<index_t>(min_block, 1)));
  if (blocks == 1) {
    f(index_t{0}, n);
    return;
  }
  // The whole team (one team size per process); threads past the last block wait.
  on_threads(true, [&](index_t t, index_t nt) {
    for (index_t b = t; b < blocks; b += nt) f(n * b / blocks, n * (b + 1) / blocks);
  });
}

}  // namespace detail

// Eigen 3.4 sizes its GEMM blocks from the L1 size it detects. On CPUs that report a 48 KB L1d
// (AMD Zen 4, recent Xeons) it picks blocks that make a (64 x 784) * (784 x 128) product ~10x
// slower than with 32 KB blocks (docs/design.md). This caps the L1 size Eigen plans for at
// `bytes` (a program-wide Eigen setting, so ember never makes it on its own: call it once at the
// start of main, as the examples and benchmarks do). Returns the L1 size Eigen had detected.
inline std::ptrdiff_t limit_eigen_l1_cache(std::ptrdiff_t bytes = 32 * 1024) {
  std::ptrdiff_t l1, l2, l3;
  Eigen::internal::manage_caching_sizes(Eigen::GetAction, &l1, &l2, &l3);
  if (l1 > bytes) Eigen::setCpuCacheSizes(bytes, l2, l3);
  return l1;
}

}  // namespace ember

#undef EMBER_HAVE_MXCSR

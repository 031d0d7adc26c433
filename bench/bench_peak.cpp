// The machine's float32 multiply-add peak, measured in the same run as the kernels, so that their
// FLOP/s counters can be read as a fraction of what this CPU gives: 16 independent chains of
// packet multiply-adds (Eigen's packets: AVX-512, AVX, SSE or NEON) per thread, on 1 thread and
// on the thread count the other benchmarks use. No memory traffic; an upper bound no GEMM reaches.
#include "common.hpp"

#include <ember/kernels/simd.hpp>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace {
using namespace bench;
using Packet = ember::kernels::simd::Packet<float>;
constexpr int kChains = 16;  // > FMA latency x FMA ports (4 x 2 on current x86 cores)
constexpr long kSteps = 1 << 16;

float fma_chains() {
  using Eigen::internal::pmadd;
  using Eigen::internal::pset1;
  Packet acc[kChains];
  for (int c = 0; c < kChains; ++c) acc[c] = pset1<Packet>(1.0f + 0.001f * static_cast<float>(c));
  const Packet a = pset1<Packet>(0.999999f), b = pset1<Packet>(1e-7f);
  for (long s = 0; s < kSteps; ++s)
    for (int c = 0; c < kChains; ++c) acc[c] = pmadd(acc[c], a, b);
  float sum = 0;
  for (int c = 0; c < kChains; ++c) sum += Eigen::internal::predux(acc[c]);
  return sum;
}

void fma_peak(benchmark::State& state, int threads) {
  int used = 1;
#ifdef _OPENMP
  used = threads;
#endif
  for (auto _ : state) {
#pragma omp parallel num_threads(used)
    benchmark::DoNotOptimize(fma_chains());
  }
  state.counters["threads"] = used;
  set_flops(state, 2.0 * kChains * kSteps * ember::kernels::simd::lanes<float> * used);
}

void fma_peak_one_thread(benchmark::State& state) { fma_peak(state, 1); }
void fma_peak_all_threads(benchmark::State& state) {  // the other benchmarks' count (EMBER_THREADS)
  setup_threads();
  fma_peak(state, get_num_threads());
}
}  // namespace

BENCHMARK(fma_peak_one_thread)->Name("machine/fma_peak/one_thread")->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(fma_peak_all_threads)->Name("machine/fma_peak/all_threads")->UseRealTime()->Unit(benchmark::kMicrosecond);

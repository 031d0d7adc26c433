// The machine's float32 multiply-add peak, measured in the same run as the kernels, so that their
// FLOP/s counters can be read as a fraction of what this CPU gives (bench::peak in common.hpp, which
// the epochs also use for their FLOP floor): 16 independent chains of packet multiply-adds per
// thread, on 1 thread and on the thread count the other benchmarks use.
#include "common.hpp"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace {
using namespace bench;
using namespace bench::peak;

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

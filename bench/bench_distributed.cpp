// Data-parallel training's costs, under mpirun (bench/distributed.sh runs it with 1 and 2 ranks):
//   allreduce/<bytes>         MPI_Allreduce of floats in place: latency and bandwidth
//   ddp_epoch/<model>         one epoch of the seed CNN or LeNet-5 (Adam, batch 64 over all ranks,
//                             each rank its shard), the gradients averaged by dist::DataParallel
//                             with PyTorch's buckets
//   ddp_overlap/<model>/<buckets>  the same epoch with one bucket (its allreduce starts when the
//                             backward has produced every gradient: nothing to overlap) or with
//                             buckets of ~16 KB (each starts as soon as its layers are done); the
//                             counters say how long each step waited after its backward
// Every benchmark runs a fixed number of iterations: the ranks must make the same collective calls.
// Rank 0 reports; the other ranks run silently. Needs MNIST_DIR (random images otherwise).
#include <mpi.h>

#include <benchmark/benchmark.h>

#include <string_view>

#include <ember/distributed.hpp>

#include "common.hpp"
#include "models.hpp"

namespace {
using namespace bench;

void allreduce(benchmark::State& state) {
  std::vector<float> values(static_cast<std::size_t>(state.range(0)) / sizeof(float), 1.0f);
  for (auto _ : state) dist::all_reduce_sum(values.data(), values.size());
  state.SetBytesProcessed(state.iterations() * state.range(0));
}

template <class MakeModel>
void ddp_epoch(benchmark::State& state, MakeModel make, dist::DataParallelOptions options) {
  int rank = 0, ranks = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &ranks);
  set_flush_denormal(true);
  manual_seed(0);
  auto model = make();
  dist::DataParallel<float> ddp(model, options);
  optim::Adam optimizer(model.parameters(), {.lr = 1e-3});
  nn::CrossEntropyLoss criterion;
  data::DataLoader loader(train_set(), {.batch_size = 64 / ranks, .shuffle = true, .seed = 0, .rank = rank, .world_size = ranks});
  double waited = 0, backward = 0;
  std::int64_t steps = 0;
  for (auto _ : state) {
    for (const auto& [images, labels] : loader) {
      const auto& logits = ddp(images);
      benchmark::DoNotOptimize(criterion.forward(logits, labels));
      optimizer.zero_grad();
      ddp.backward(criterion.backward());
      optimizer.step();
      waited += ddp.last_stats().wait_seconds;
      backward += ddp.last_stats().backward_seconds;
      ++steps;
    }
  }
  state.counters["ranks"] = ranks;
  state.counters["threads"] = get_num_threads();
  state.counters["buckets"] = ddp.last_stats().buckets;
  state.counters["early"] = ddp.last_stats().started_in_backward;  // buckets started inside the backward
  state.counters["wait_us"] = 1e6 * waited / static_cast<double>(steps);       // a step, after the backward
  state.counters["backward_us"] = 1e6 * backward / static_cast<double>(steps);  // a step
}

auto seed_cnn() { return test::SeedCnnForwardOnly<float>{}; }
auto lenet() { return test::make_lenet<float>(); }
const dist::DataParallelOptions defaults{};
const dist::DataParallelOptions one_bucket{.bucket_cap_mb = 1e6, .first_bucket_mb = 1e6};
const dist::DataParallelOptions small_buckets{.bucket_cap_mb = 1.0 / 64, .first_bucket_mb = 1.0 / 64};

}  // namespace

BENCHMARK(allreduce)->Name("allreduce")->ArgName("bytes")->Arg(4)->Arg(4 << 10)->Arg(64 << 10)->Arg(1 << 20)->Arg(16 << 20)
    ->Iterations(200)->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(ddp_epoch, cnn_seed, seed_cnn, defaults)->Name("ddp_epoch/cnn_seed")->Iterations(2)->Unit(benchmark::kSecond);
BENCHMARK_CAPTURE(ddp_epoch, lenet5, lenet, defaults)->Name("ddp_epoch/lenet5")->Iterations(2)->Unit(benchmark::kSecond);
BENCHMARK_CAPTURE(ddp_epoch, cnn_one, seed_cnn, one_bucket)->Name("ddp_overlap/cnn_seed/one_bucket")->Iterations(1)->Unit(benchmark::kSecond);
BENCHMARK_CAPTURE(ddp_epoch, cnn_small, seed_cnn, small_buckets)->Name("ddp_overlap/cnn_seed/16KB_buckets")->Iterations(1)->Unit(benchmark::kSecond);
BENCHMARK_CAPTURE(ddp_epoch, lenet_one, lenet, one_bucket)->Name("ddp_overlap/lenet5/one_bucket")->Iterations(1)->Unit(benchmark::kSecond);
BENCHMARK_CAPTURE(ddp_epoch, lenet_small, lenet, small_buckets)->Name("ddp_overlap/lenet5/16KB_buckets")->Iterations(1)->Unit(benchmark::kSecond);

namespace {
// The other ranks' results go nowhere.
class Silent : public benchmark::BenchmarkReporter {
 public:
  bool ReportContext(const Context&) override { return true; }
  void ReportRuns(const std::vector<Run>&) override {}
};
}  // namespace

int main(int argc, char** argv) {
  dist::Environment env(argc, argv);
  bool file_out = false;  // --benchmark_out=FILE: rank 0 writes it, the others must not
  for (int i = 1; i < argc; ++i) file_out = file_out || std::string_view(argv[i]).starts_with("--benchmark_out=");
  benchmark::Initialize(&argc, argv);
  if (env.is_main()) {
    benchmark::RunSpecifiedBenchmarks();
  } else {
    Silent silent;
    benchmark::RunSpecifiedBenchmarks(&silent, file_out ? &silent : nullptr);
  }
  benchmark::Shutdown();
  return 0;
}

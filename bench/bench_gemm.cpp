// ember's register-blocked kernels (include/ember/kernels/gemm.hpp) beside Eigen's GEMM on the same
// products, at the seed models' shapes, on one thread: the kernels must beat Eigen on every ISA
// they are built for (run this from an AVX2 build too: -march=haswell, docs/performance.md).
#include <ember/kernels/gemm.hpp>

#include "common.hpp"

namespace {
using namespace bench;
using RowMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

RowMatrix random_matrix(index_t rows, index_t cols, std::uint64_t seed) {
  Generator g(seed);
  RowMatrix m(rows, cols);
  for (index_t i = 0; i < m.size(); ++i) m.data()[i] = static_cast<float>(g.normal());
  return m;
}

// Linear forward, y = x W^T + b: x (N, 784), W (128, 784).
void abt_ember(benchmark::State& state) {
  setup_threads();
  const index_t n = state.range(0), in = 784, out = 128;
  const RowMatrix x = random_matrix(n, in, 1), w = random_matrix(out, in, 2), b = random_matrix(1, out, 3);
  RowMatrix y(n, out);
  std::vector<float> packed(static_cast<std::size_t>(kernels::packed_abt_size<float>(out, in)));
  const index_t panels = kernels::abt_panels<float>(out);
  for (auto _ : state) {
    kernels::pack_abt(w.data(), b.data(), out, in, packed.data(), 0, panels);
    kernels::gemm_abt(x.data(), in, n, packed.data(), out, in, y.data(), out, 0, panels);
    benchmark::DoNotOptimize(y.data());
  }
  set_flops(state, 2.0 * n * in * out);
}
void abt_eigen(benchmark::State& state) {
  setup_threads();
  const index_t n = state.range(0), in = 784, out = 128;
  const RowMatrix x = random_matrix(n, in, 1), w = random_matrix(out, in, 2), b = random_matrix(1, out, 3);
  RowMatrix y(n, out);
  for (auto _ : state) {
    y.noalias() = x * w.transpose();
    y.rowwise() += b.row(0);
    benchmark::DoNotOptimize(y.data());
  }
  set_flops(state, 2.0 * n * in * out);
}

// Linear backward's dx = dy W: dy (N, 128), W (128, 784).
void ab_ember(benchmark::State& state) {
  setup_threads();
  const index_t n = state.range(0), in = 784, out = 128;
  const RowMatrix dy = random_matrix(n, out, 4), w = random_matrix(out, in, 2);
  RowMatrix dx(n, in);
  for (auto _ : state) {
    kernels::gemm_ab(dy.data(), w.data(), dx.data(), n, in, {.ars = out, .acs = 1, .ldb = in, .ldc = in, .k = out},
                     static_cast<const float*>(nullptr));
    benchmark::DoNotOptimize(dx.data());
  }
  set_flops(state, 2.0 * n * in * out);
}
void ab_eigen(benchmark::State& state) {
  setup_threads();
  const index_t n = state.range(0), in = 784, out = 128;
  const RowMatrix dy = random_matrix(n, out, 4), w = random_matrix(out, in, 2);
  RowMatrix dx(n, in);
  for (auto _ : state) {
    dx.noalias() = dy * w;
    benchmark::DoNotOptimize(dx.data());
  }
  set_flops(state, 2.0 * n * in * out);
}

// The seed CNN's dweight of one sample, dw (16, 9) += dy_n (16, 676) col_n^T (9, 676)^T.
void conv_dw_ember(benchmark::State& state) {
  setup_threads();
  const index_t o = 16, k = 9, p = 676;
  const RowMatrix dy = random_matrix(o, p, 5), col = random_matrix(k, p, 6);
  std::vector<float> cv(static_cast<std::size_t>(o * k * kernels::simd::lanes<float>), 0.0f);
  for (auto _ : state) {
    kernels::accumulate_abt(dy.data(), col.data(), {p, p, p}, o, k, cv.data());
    benchmark::DoNotOptimize(cv.data());
  }
  set_flops(state, 2.0 * o * k * p);
}
void conv_dw_eigen(benchmark::State& state) {
  setup_threads();
  const index_t o = 16, k = 9, p = 676;
  const RowMatrix dy = random_matrix(o, p, 5), col = random_matrix(k, p, 6);
  RowMatrix dw = RowMatrix::Zero(o, k);
  for (auto _ : state) {
    dw.noalias() += dy * col.transpose();
    benchmark::DoNotOptimize(dw.data());
  }
  set_flops(state, 2.0 * o * k * p);
}

// The seed CNN's forward of one sample, y (16, 676) = w (16, 9) col (9, 676) + b.
void conv_fwd_ember(benchmark::State& state) {
  setup_threads();
  const index_t o = 16, k = 9, p = 676;
  const RowMatrix w = random_matrix(o, k, 7), col = random_matrix(k, p, 6), b = random_matrix(1, o, 8);
  RowMatrix y(o, p);
  for (auto _ : state) {
    kernels::gemm_ab(w.data(), col.data(), y.data(), o, p, {.ars = k, .acs = 1, .ldb = p, .ldc = p, .k = k}, b.data());
    benchmark::DoNotOptimize(y.data());
  }
  set_flops(state, 2.0 * o * k * p);
}
void conv_fwd_eigen(benchmark::State& state) {
  setup_threads();
  const index_t o = 16, k = 9, p = 676;
  const RowMatrix w = random_matrix(o, k, 7), col = random_matrix(k, p, 6), b = random_matrix(1, o, 8);
  RowMatrix y(o, p);
  for (auto _ : state) {
    y.noalias() = w * col;
    y.colwise() += b.row(0).transpose();
    benchmark::DoNotOptimize(y.data());
  }
  set_flops(state, 2.0 * o * k * p);
}
}  // namespace

BENCHMARK(abt_ember)->Name("gemm/linear_forward/ember")->ArgName("batch")->Arg(64)->Arg(1024)->Unit(benchmark::kMicrosecond);
BENCHMARK(abt_eigen)->Name("gemm/linear_forward/eigen")->ArgName("batch")->Arg(64)->Arg(1024)->Unit(benchmark::kMicrosecond);
BENCHMARK(ab_ember)->Name("gemm/linear_dx/ember")->ArgName("batch")->Arg(64)->Arg(1024)->Unit(benchmark::kMicrosecond);
BENCHMARK(ab_eigen)->Name("gemm/linear_dx/eigen")->ArgName("batch")->Arg(64)->Arg(1024)->Unit(benchmark::kMicrosecond);
BENCHMARK(conv_dw_ember)->Name("gemm/conv_dweight/ember")->Unit(benchmark::kMicrosecond);
BENCHMARK(conv_dw_eigen)->Name("gemm/conv_dweight/eigen")->Unit(benchmark::kMicrosecond);
BENCHMARK(conv_fwd_ember)->Name("gemm/conv_forward/ember")->Unit(benchmark::kMicrosecond);
BENCHMARK(conv_fwd_eigen)->Name("gemm/conv_forward/eigen")->Unit(benchmark::kMicrosecond);

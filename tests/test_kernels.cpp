// The kernels of include/ember/kernels against their references, at shapes around every tile,
// panel and packet boundary, in double (sums in another order: equal to 1e-12 relative). The
// test binary is built with EMBER_CHECK_KERNELS, so the kernels' preconditions are checked too.
#include <ember/kernels/gemm.hpp>
#include <ember/kernels/im2col.hpp>
#include <ember/kernels/shape.hpp>
#include <ember/kernels/winograd.hpp>

#include <catch2/catch.hpp>
#include <algorithm>
#include <vector>

#include "helpers.hpp"

using namespace ember;

namespace {

std::vector<double> random_values(index_t n, std::uint64_t seed) {
  Generator g(seed);
  std::vector<double> v(static_cast<std::size_t>(n));
  for (auto& x : v) x = g.normal();
  return v;
}

bool close(const std::vector<double>& a, const std::vector<double>& b) {
  for (std::size_t i = 0; i < a.size(); ++i)
    if (std::abs(a[i] - b[i]) > 1e-12 * std::max(1.0, std::abs(b[i]))) return false;
  return a.size() == b.size();
}

}  // namespace

TEST_CASE("gemm_ab and gemm_ab_add match the reference around their blocks", "[kernels]") {
  test::for_each_isa([](kernels::Isa isa) {
  const index_t L = kernels::lanes_now<double>();
  for (index_t m : {index_t{1}, index_t{3}, index_t{4}, index_t{7}, index_t{8}, index_t{9}, index_t{17}})
    for (index_t n : {L, L + 1, 2 * L - 1, 3 * L, 4 * L + 3, 13 * L + 1})
      for (index_t k : {index_t{1}, index_t{5}, index_t{33}}) {
        INFO(kernels::name(isa) << " m " << m << " n " << n << " k " << k);
        const auto a = random_values(m * k, 1), b = random_values(k * n, 2), bias = random_values(m, 3);
        const kernels::AbOperands o{.ars = k, .acs = 1, .ldb = n, .ldc = n, .k = k};
        std::vector<double> c(static_cast<std::size_t>(m * n)), ref(c.size());
        kernels::gemm_ab(a.data(), b.data(), c.data(), m, n, o, bias.data());
        kernels::reference::gemm_ab(a.data(), b.data(), ref.data(), m, n, o, bias.data(), false);
        CHECK(close(c, ref));
        kernels::gemm_ab_add(a.data(), b.data(), c.data(), m, n, o);
        kernels::reference::gemm_ab(a.data(), b.data(), ref.data(), m, n, o, static_cast<const double*>(nullptr), true);
        CHECK(close(c, ref));
      }
  });
}

TEST_CASE("gemm_abt on packed panels matches the reference around tiles and panels", "[kernels]") {
  test::for_each_isa([](kernels::Isa isa) {
  const index_t L = kernels::lanes_now<double>(), W = kernels::abt_panel_width<double>();
  for (index_t m : {index_t{1}, index_t{2}, index_t{5}, index_t{12}, index_t{13}, index_t{25}, index_t{49}})
    for (index_t n : {index_t{1}, L - 1, L, W - 1, W, W + 1, 3 * W + 2})
      for (index_t k : {index_t{1}, L - 1, L, 2 * L + 3}) {
        INFO(kernels::name(isa) << " m " << m << " n " << n << " k " << k);
        const auto a = random_values(m * k, 4), b = random_values(n * k, 5), bias = random_values(n, 6);
        std::vector<double> packed(static_cast<std::size_t>(kernels::packed_abt_size<double>(n, k)));
        kernels::pack_abt(b.data(), bias.data(), n, k, packed.data(), 0, kernels::abt_panels<double>(n));
        std::vector<double> c(static_cast<std::size_t>(m * n)), ref(c.size());
        kernels::gemm_abt(a.data(), k, m, packed.data(), n, k, c.data(), n, 0, kernels::abt_panels<double>(n));
        kernels::reference::gemm_abt(a.data(), k, m, b.data(), bias.data(), n, k, ref.data(), n);
        CHECK(close(c, ref));
      }
  });
}

TEST_CASE("pack_abt moves every float of B^T and the bias to its panel place, around transpose blocks", "[kernels]") {
  test::for_each_isa([](kernels::Isa isa) {
    const index_t L = kernels::lanes_now<float>(), W = kernels::abt_panel_width<float>();
    for (index_t n : {index_t{1}, index_t{15}, index_t{16}, index_t{17}, W - 1, W, W + 1, 3 * W + 2})
      for (index_t k : {index_t{1}, index_t{15}, index_t{16}, index_t{17}, index_t{33}, index_t{50}}) {
        INFO(kernels::name(isa) << " n " << n << " k " << k);
        std::vector<float> b(static_cast<std::size_t>(n * k)), bias(static_cast<std::size_t>(n));
        for (std::size_t i = 0; i < b.size(); ++i) b[i] = static_cast<float>(i) + 0.5f;  // each value unique
        for (std::size_t i = 0; i < bias.size(); ++i) bias[i] = -static_cast<float>(i) - 1.0f;
        const index_t panels = kernels::abt_panels<float>(n);
        std::vector<float> packed(static_cast<std::size_t>(kernels::packed_abt_size<float>(n, k)), 7.0f);
        kernels::pack_abt(b.data(), bias.data(), n, k, packed.data(), 0, panels);
        bool ok = true;
        for (index_t p = 0; p < panels; ++p) {
          const index_t col0 = p * W, cols = std::min(W, n - col0), width = (cols + L - 1) / L * L;
          const float* out = packed.data() + p * (k + 1) * W;
          for (index_t j = 0; j < width; ++j) {
            ok = ok && out[j] == (j < cols ? bias[static_cast<std::size_t>(col0 + j)] : 0.0f);
            for (index_t i = 0; i < k; ++i)
              ok = ok && out[width + i * width + j] == (j < cols ? b[static_cast<std::size_t>((col0 + j) * k + i)] : 0.0f);
          }
        }
        CHECK(ok);
      }
  });
}

TEST_CASE("accumulate_abt's lane sums match A B^T", "[kernels]") {
  test::for_each_isa([](kernels::Isa isa) {
  const index_t L = kernels::lanes_now<double>();
  for (index_t m : {index_t{1}, index_t{3}, index_t{4}, index_t{5}, index_t{16}})
    for (index_t n : {index_t{1}, index_t{2}, index_t{3}, index_t{4}, index_t{9}, index_t{25}})
      for (index_t k : {index_t{1}, L - 1, L, 3 * L + 5}) {
        INFO(kernels::name(isa) << " m " << m << " n " << n << " k " << k);
        const auto a = random_values(m * k, 7), b = random_values(n * k, 8);
        std::vector<double> cv(static_cast<std::size_t>(m * n * L), 0.0), ref(static_cast<std::size_t>(m * n), 0.0);
        kernels::accumulate_abt(a.data(), b.data(), {k, k, k}, m, n, cv.data());
        std::vector<double> c(ref.size(), 0.0);
        for (index_t i = 0; i < m * n; ++i)
          for (index_t l = 0; l < L; ++l) c[static_cast<std::size_t>(i)] += cv[static_cast<std::size_t>(i * L + l)];
        for (index_t r = 0; r < m; ++r)
          for (index_t j = 0; j < n; ++j)
            for (index_t i = 0; i < k; ++i) ref[static_cast<std::size_t>(r * n + j)] += a[r * k + i] * b[j * k + i];
        CHECK(close(c, ref));
      }
  });
}

TEST_CASE("im2col on the padded copy (stride 1) equals the general im2col", "[kernels]") {
  for (index_t dil : {index_t{1}, index_t{2}, index_t{3}})
  for (index_t pad : {index_t{0}, index_t{1}, index_t{2}})
    for (index_t w : {index_t{3}, index_t{5}, index_t{13}, index_t{28}}) {
      const index_t c = 2, h = w + 1, kh = 3, kw = 2;
      if (h + 2 * pad < dil * (kh - 1) + 1 || w + 2 * pad < dil * (kw - 1) + 1) continue;
      kernels::ConvGeometry g{1, c, h, w, kh, kw, 1, 1, pad, pad, 0, 0, dil, dil};
      g.oh = kernels::output_size(h, kh, 1, pad, dil);
      g.ow = kernels::output_size(w, kw, 1, pad, dil);
      INFO("w " << w << " pad " << pad << " dilation " << dil);
      const auto x = random_values(c * h * w, 9);
      const auto layout = kernels::PaddedLayout::of<double>(g);
      Tensor<double> xp({layout.size});
      std::vector<double> col(static_cast<std::size_t>(g.patch() * g.out_plane())), ref(col.size());
      kernels::pad_into(x.data(), xp.data(), g, layout);
      kernels::im2col_stride1(std::as_const(xp).data(), col.data(), g, layout);
      kernels::im2col(x.data(), ref.data(), g);
      CHECK(col == ref);
    }
}

template <class T>
void check_winograd_transpose() {
  constexpr index_t P = kernels::simd::lanes<T>;
  for (index_t rows : {index_t{1}, P - 1, P, P + 1, 2 * P, 3 * P + 5})
    for (index_t cols : {index_t{1}, P - 1, P, P + 3, 4 * P + 1}) {
      INFO("rows " << rows << " cols " << cols << " lanes " << P);
      const index_t lds = cols + 2, ldd = rows + 3;  // gaps after each row that must stay untouched
      const auto values = random_values(rows * lds, 11);
      const std::vector<T> src(values.begin(), values.end());
      std::vector<T> dst(static_cast<std::size_t>(cols * ldd), T(-7));
      kernels::winograd::transpose(src.data(), lds, rows, cols, dst.data(), ldd);
      bool moved = true, gaps_kept = true;
      for (index_t j = 0; j < cols; ++j)
        for (index_t i = 0; i < ldd; ++i) {
          const T v = dst[static_cast<std::size_t>(j * ldd + i)];
          if (i < rows) moved = moved && v == src[static_cast<std::size_t>(i * lds + j)];
          else gaps_kept = gaps_kept && v == T(-7);
        }
      CHECK(moved);
      CHECK(gaps_kept);
    }
}

TEST_CASE("winograd's transpose moves every value once, around packet edges and strides", "[kernels]") {
  check_winograd_transpose<double>();
  check_winograd_transpose<float>();
}

TEST_CASE("a kernel's unmet precondition is an Error in checked builds", "[kernels]") {
  REQUIRE(kernels::checked);
  constexpr index_t L = kernels::simd::lanes<double>;  // copy_runs runs on the flags' packets
  std::vector<double> src(3 * L + 1), dst(2 * L + 2);
  // Two runs of L + 1 values, 2L apart: the first is copied in two packets and reads L - 1 values
  // past its end, so src must be readable up to 2L.
  CHECK_THROWS_WITH(kernels::simd::copy_runs(src.data(), 2 * L, dst.data(), L + 1, 2, src.data() + L + 1),
                    Catch::Contains("copy_runs") && Catch::Contains("slack"));
  CHECK_NOTHROW(kernels::simd::copy_runs(src.data(), 2 * L, dst.data(), L + 1, 2, src.data() + 3 * L + 1));
  CHECK(kernels::output_size(28, 3, 1, 0) == 26);
  CHECK(kernels::output_size(28, 5, 1, 2) == 28);
  CHECK(kernels::output_size(13, 2, 2, 0) == 6);
  CHECK(kernels::output_size(7, 3, 2, 1, 2) == 3);  // torch: Conv2d(.., 3, stride=2, padding=1, dilation=2) on 7
}

#include <ember/ember.hpp>
#include <ember/nn/gradcheck.hpp>

#include <catch2/catch.hpp>
#include <cmath>
#include <memory>
#include <sstream>
#include <string>

#include "helpers.hpp"

using namespace ember;

namespace {

using test::random_tensor;

// The naive definitions (torch's docs), window position by window position; dx accumulated from
// dy when given.
// AvgPool2d: a window's positions past the padded input do not count; the divisor is the number
// of positions left (count_include_pad) or of those inside the input.
Tensor<double> avgpool_reference(const Tensor<double>& x, nn::Size2 k, nn::Size2 s, nn::Size2 p, bool ceil_mode,
                                 bool count_include_pad, Tensor<double>* dx = nullptr, const Tensor<double>* dy = nullptr) {
  const index_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  const auto out = [&](index_t in, index_t kk, index_t ss, index_t pp) {
    const double span = static_cast<double>(in + 2 * pp - kk) / static_cast<double>(ss);
    index_t o = static_cast<index_t>(ceil_mode ? std::ceil(span) : std::floor(span)) + 1;
    if (ceil_mode && (o - 1) * ss >= in + pp) --o;  // the last window starts in the right padding
    return o;
  };
  const index_t OH = out(H, k.h, s.h, p.h), OW = out(W, k.w, s.w, p.w);
  Tensor<double> y({N, C, OH, OW});
  if (dx) dx->resize(x.shape());
  for (index_t n = 0; n < N; ++n)
    for (index_t c = 0; c < C; ++c)
      for (index_t i = 0; i < OH; ++i)
        for (index_t j = 0; j < OW; ++j) {
          double sum = 0;
          index_t padded = 0, inside = 0;
          for (index_t u = 0; u < k.h; ++u)
            for (index_t v = 0; v < k.w; ++v) {
              const index_t yy = i * s.h - p.h + u, xx = j * s.w - p.w + v;
              if (yy >= H + p.h || xx >= W + p.w) continue;
              ++padded;
              if (yy < 0 || yy >= H || xx < 0 || xx >= W) continue;
              ++inside;
              sum += x(n, c, yy, xx);
            }
          const double divisor = static_cast<double>(count_include_pad ? padded : inside);
          y(n, c, i, j) = sum / divisor;
          if (dx)
            for (index_t yy = std::max<index_t>(i * s.h - p.h, 0); yy < std::min(i * s.h - p.h + k.h, H); ++yy)
              for (index_t xx = std::max<index_t>(j * s.w - p.w, 0); xx < std::min(j * s.w - p.w + k.w, W); ++xx)
                (*dx)(n, c, yy, xx) += (*dy)(n, c, i, j) / divisor;
        }
  return y;
}

// AdaptiveAvgPool2d: bin i of `out` over `in` is [floor(i in / out), ceil((i + 1) in / out)).
Tensor<double> adaptive_reference(const Tensor<double>& x, index_t OH, index_t OW, Tensor<double>* dx = nullptr,
                                  const Tensor<double>* dy = nullptr) {
  const index_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  const auto start = [](index_t i, index_t in, index_t out) {
    return static_cast<index_t>(std::floor(static_cast<double>(i * in) / static_cast<double>(out)));
  };
  const auto end = [](index_t i, index_t in, index_t out) {
    return static_cast<index_t>(std::ceil(static_cast<double>((i + 1) * in) / static_cast<double>(out)));
  };
  Tensor<double> y({N, C, OH, OW});
  if (dx) dx->resize(x.shape());
  for (index_t n = 0; n < N; ++n)
    for (index_t c = 0; c < C; ++c)
      for (index_t i = 0; i < OH; ++i)
        for (index_t j = 0; j < OW; ++j) {
          const index_t y0 = start(i, H, OH), y1 = end(i, H, OH), x0 = start(j, W, OW), x1 = end(j, W, OW);
          const double count = static_cast<double>((y1 - y0) * (x1 - x0));
          double sum = 0;
          for (index_t yy = y0; yy < y1; ++yy)
            for (index_t xx = x0; xx < x1; ++xx) {
              sum += x(n, c, yy, xx);
              if (dx) (*dx)(n, c, yy, xx) += (*dy)(n, c, i, j) / count;
            }
          y(n, c, i, j) = sum / count;
        }
  return y;
}

double max_abs_diff(const Tensor<double>& a, const Tensor<double>& b) { return (a.array() - b.array()).abs().maxCoeff(); }

}  // namespace

TEST_CASE("AvgPool2d, AdaptiveAvgPool2d and MaxPool2d's ceil mode match torch 1.13", "[avgpool2d][maxpool2d][golden]") {
  const golden::File g("pooling.txt");  // computed with torch 1.13 nn.AvgPool2d, nn.MaxPool2d, nn.AdaptiveAvgPool2d
  using nn::AvgPool2d, nn::MaxPool2d, nn::AdaptiveAvgPool2d, nn::Size2;
  struct Case {
    std::string name;
    std::unique_ptr<nn::Module<float>> layer;
  };
  Case cases[] = {
      {"avg_k2", std::make_unique<AvgPool2d<float>>(2)},
      {"avg_k3s2p1", std::make_unique<AvgPool2d<float>>(3, 2, 1)},
      {"avg_k3s2p1_nocount", std::make_unique<AvgPool2d<float>>(3, 2, 1, nn::AvgPool2dOptions{.count_include_pad = false})},
      {"avg_ceil", std::make_unique<AvgPool2d<float>>(3, 2, 0, nn::AvgPool2dOptions{.ceil_mode = true})},
      {"avg_ceil_pad_drop", std::make_unique<AvgPool2d<float>>(2, 2, 1, nn::AvgPool2dOptions{.ceil_mode = true})},
      {"avg_ceil_pad_nocount", std::make_unique<AvgPool2d<float>>(
                                   2, 2, 1, nn::AvgPool2dOptions{.ceil_mode = true, .count_include_pad = false})},
      {"avg_rect", std::make_unique<AvgPool2d<float>>(Size2(2, 3), Size2(1, 2), Size2(1, 1),
                                                      nn::AvgPool2dOptions{.ceil_mode = true})},
      {"max_ceil", std::make_unique<MaxPool2d<float>>(3, 2, 0, nn::MaxPool2dOptions{.ceil_mode = true})},
      {"max_ceil_pad_drop", std::make_unique<MaxPool2d<float>>(2, 2, 1, nn::MaxPool2dOptions{.ceil_mode = true})},
      {"max_ceil_rect", std::make_unique<MaxPool2d<float>>(Size2(2, 3), Size2(2, 2), Size2(1, 1),
                                                           nn::MaxPool2dOptions{.ceil_mode = true})},
      {"adaptive_5to3", std::make_unique<AdaptiveAvgPool2d<float>>(3)},
      {"adaptive_rect", std::make_unique<AdaptiveAvgPool2d<float>>(Size2{3, 4})},
      {"adaptive_up", std::make_unique<AdaptiveAvgPool2d<float>>(Size2{4, 5})},
      {"adaptive_global", std::make_unique<AdaptiveAvgPool2d<float>>(1)},
      // ceil mode: a kernel larger than the padded input, torch accepts it while one window starts in it
      {"avg_ceil_small", std::make_unique<AvgPool2d<float>>(3, 2, 0, nn::AvgPool2dOptions{.ceil_mode = true})},
      {"avg_ceil_small_pad", std::make_unique<AvgPool2d<float>>(4, 3, 1, nn::AvgPool2dOptions{.ceil_mode = true})},
      {"avg_ceil_small_pad_nocount", std::make_unique<AvgPool2d<float>>(
                                         4, 3, 1, nn::AvgPool2dOptions{.ceil_mode = true, .count_include_pad = false})},
      {"max_ceil_small", std::make_unique<MaxPool2d<float>>(3, 2, 0, nn::MaxPool2dOptions{.ceil_mode = true})},
      {"max_ceil_1x1", std::make_unique<MaxPool2d<float>>(2, 2, 0, nn::MaxPool2dOptions{.ceil_mode = true})},
  };
  for (auto& [name, layer] : cases) {
    INFO("case " << name << ": " << *layer);
    const auto x = test::to_tensor(g[name + ".x"]);
    CHECK_CLOSE(layer->forward(x), g[name + ".y"]);
    CHECK_CLOSE(layer->backward(test::to_tensor(g[name + ".dy"])), g[name + ".dx"]);
  }
}

TEST_CASE("AvgPool2d's kernels match the naive definition", "[avgpool2d][reference]") {
  struct Case {
    Shape x;
    nn::Size2 k, s, p;
  };
  const Case cases[] = {{{2, 3, 6, 6}, 2, 2, 0},      {{1, 2, 7, 5}, 3, 2, 1},          {{2, 1, 6, 9}, {2, 3}, {1, 2}, {1, 1}},
                        {{1, 2, 5, 5}, 2, 2, 1},      {{1, 1, 9, 7}, {3, 3}, {3, 2}, {1, 0}}, {{1, 1, 4, 4}, 4, 1, 2}};
  std::uint64_t seed = 70;
  for (const auto& c : cases)
    for (const bool ceil_mode : {false, true})
      for (const bool count_include_pad : {true, false}) {
        INFO("x " << c.x << " kernel " << c.k << " stride " << c.s << " padding " << c.p << " ceil_mode " << ceil_mode
                  << " count_include_pad " << count_include_pad);
        const auto x = random_tensor<double>(c.x, seed++);
        nn::AvgPool2d<double> pool(c.k, c.s, c.p, {.ceil_mode = ceil_mode, .count_include_pad = count_include_pad});
        const auto& y = pool.forward(x);
        const auto dy = random_tensor<double>(y.shape(), seed++);
        Tensor<double> dx_ref;
        const auto y_ref = avgpool_reference(x, c.k, c.s, c.p, ceil_mode, count_include_pad, &dx_ref, &dy);
        REQUIRE(y.shape() == y_ref.shape());
        CHECK(max_abs_diff(y, y_ref) < 1e-14);
        CHECK(max_abs_diff(pool.backward(dy), dx_ref) < 1e-14);
      }
}

TEST_CASE("AdaptiveAvgPool2d's kernels match the naive bins, overlapping and repeated ones included",
          "[avgpool2d][reference]") {
  struct Case {
    Shape x;
    index_t oh, ow;
  };
  const Case cases[] = {{{2, 3, 5, 5}, 3, 3}, {{1, 2, 7, 10}, 3, 4}, {{1, 1, 2, 3}, 4, 5},
                        {{2, 2, 6, 6}, 6, 6}, {{1, 1, 11, 13}, 4, 5}, {{1, 3, 9, 4}, 1, 1}};
  std::uint64_t seed = 90;
  for (const auto& c : cases) {
    INFO("x " << c.x << " output " << c.oh << "x" << c.ow);
    const auto x = random_tensor<double>(c.x, seed++);
    nn::AdaptiveAvgPool2d<double> pool({c.oh, c.ow});
    const auto& y = pool.forward(x);
    const auto dy = random_tensor<double>(y.shape(), seed++);
    Tensor<double> dx_ref;
    const auto y_ref = adaptive_reference(x, c.oh, c.ow, &dx_ref, &dy);
    REQUIRE(y.shape() == y_ref.shape());
    CHECK(max_abs_diff(y, y_ref) < 1e-14);
    CHECK(max_abs_diff(pool.backward(dy), dx_ref) < 1e-14);
  }
}

TEST_CASE("the average poolings pass the double-precision gradient check", "[avgpool2d][gradcheck]") {
  nn::AvgPool2d<double> pool(3, 2, 1, {.ceil_mode = true, .count_include_pad = false});
  auto r = nn::gradcheck(pool, random_tensor<double>({2, 2, 6, 5}, 7));
  INFO(r.report);
  CHECK(r.ok);
  nn::AdaptiveAvgPool2d<double> adaptive({3, 2});
  r = nn::gradcheck(adaptive, random_tensor<double>({2, 2, 5, 5}, 8));
  INFO(r.report);
  CHECK(r.ok);
}

TEST_CASE("the poolings print as torch and name their errors", "[avgpool2d]") {
  std::ostringstream out;
  out << nn::AvgPool2d<float>(2) << "; " << nn::AdaptiveAvgPool2d<float>({5, 7}) << "; "
      << nn::MaxPool2d<float>(3, 2, 1, {.ceil_mode = true});
  CHECK(out.str() ==
        // repr() of the same layers in torch 1.13: a size given as one number prints as one
        "AvgPool2d(kernel_size=2, stride=2, padding=0); AdaptiveAvgPool2d(output_size=(5, 7)); "
        "MaxPool2d(kernel_size=3, stride=2, padding=1, dilation=1, ceil_mode=True)");
  nn::AvgPool2d<float> pool(5);
  CHECK_THROWS_WITH(pool.forward(Tensor<float>({1, 1, 3, 3})),
                    Catch::Contains("AvgPool2d(kernel_size=5") && Catch::Contains("does not fit the input (1, 1, 3, 3)"));
  CHECK_THROWS_WITH(pool.forward(Tensor<float>({2, 10})), Catch::Contains("expected input of shape (N, C, H, W), got (2, 10)"));
  // ceil mode needs one window starting in the input, as torch's "Output size is too small": a 3x3
  // window with stride 2 fits a 2x2 input (torch 1.13: output 1x1) but not a 1x1 one (torch: an error;
  // (1 - 3 + 1) / 2 rounds toward -inf there, not toward 0).
  nn::AvgPool2d<float> ceil_avg(3, 2, 0, {.ceil_mode = true});
  nn::MaxPool2d<float> ceil_max(3, 2, 0, {.ceil_mode = true});
  CHECK(ceil_avg.output_shape({1, 1, 2, 2}) == Shape{1, 1, 1, 1});
  CHECK(ceil_max.output_shape({1, 1, 2, 2}) == Shape{1, 1, 1, 1});
  CHECK_THROWS_WITH(ceil_avg.forward(Tensor<float>({1, 1, 1, 1})), Catch::Contains("does not fit the input (1, 1, 1, 1)"));
  CHECK_THROWS_WITH(ceil_max.forward(Tensor<float>({1, 1, 1, 1})), Catch::Contains("does not fit the input (1, 1, 1, 1)"));
  CHECK_THROWS_WITH(nn::AvgPool2d<float>(3, 2).forward(Tensor<float>({1, 1, 2, 2})), Catch::Contains("does not fit the input"));
  CHECK_THROWS_WITH(nn::AvgPool2d<float>(2, 2, 2), Catch::Contains("half the kernel size"));
  CHECK_THROWS_WITH(nn::AdaptiveAvgPool2d<float>(0), Catch::Contains("AdaptiveAvgPool2d(output_size=0): output size must be positive"));
  nn::AdaptiveAvgPool2d<float> adaptive(2);
  CHECK_THROWS_WITH(adaptive.forward(Tensor<float>({2, 3, 4})), Catch::Contains("AdaptiveAvgPool2d(output_size=2): expected input"));
  adaptive.forward(Tensor<float>({1, 1, 4, 4}));
  CHECK_THROWS_WITH(adaptive.backward(Tensor<float>({1, 1, 4, 4})), Catch::Contains("expected dy of shape (1, 1, 2, 2)"));
}

TEST_CASE("a pooling applied to its own output in eval mode pools its input, not its half-written output",
          "[avgpool2d][maxpool2d]") {
  // In eval mode every forward() writes the same buffer, so pool.forward(pool.forward(x)) reads the
  // buffer it writes (a model that reuses one pool in series, as torch allows, evaluated).
  const auto x = random_tensor<double>({2, 3, 8, 8}, 12);
  const auto check = [&](auto make) {
    auto once = make();
    once.eval();
    const Tensor<double> y1 = once.forward(x);
    const Tensor<double> expected = once.forward(y1);  // y1 a copy: no aliasing
    auto pool = make();
    pool.eval();
    const auto& y = pool.forward(pool.forward(x));
    REQUIRE(y.shape() == expected.shape());
    CHECK(max_abs_diff(y, expected) == 0);
  };
  check([] { return nn::AvgPool2d<double>(3, 1, 1); });
  check([] { return nn::AvgPool2d<double>(2, 1, 0, {.ceil_mode = true, .count_include_pad = false}); });
  check([] { return nn::AdaptiveAvgPool2d<double>({7, 5}); });
  check([] { return nn::MaxPool2d<double>(3, 1, 1); });
  check([] { return nn::MaxPool2d<double>(2, 1, 0, {.ceil_mode = true}); });
}

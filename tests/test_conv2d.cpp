#include <ember/ember.hpp>
#include <ember/nn/gradcheck.hpp>

#include <catch2/catch.hpp>

#include "helpers.hpp"

using namespace ember;

namespace {

using test::random_tensor;

struct Config {
  std::string prefix;
  index_t in, out;
  nn::Size2 kernel;
  nn::Conv2dOptions options;
};

// The configurations of tests/golden/conv2d.txt (constructor calls in the file's comments).
const Config golden_configs[] = {
    {"seed.", 1, 16, 3, {}},
    {"lenet1.", 1, 6, 5, {.padding = 2}},
    {"lenet2.", 6, 16, 5, {}},
    {"stride2.", 3, 4, 3, {.stride = 2, .padding = 1}},
    {"pad2.", 3, 2, {3, 2}, {.stride = {1, 2}, .padding = 2}},
    {"nobias.", 2, 3, 3, {.bias = false}},
};

// The configurations of tests/golden/conv2d_groups.txt (tests/golden/make_golden_conv2d_groups.py).
const Config golden_group_configs[] = {
    {"dilated.", 2, 3, 3, {.dilation = 2}},
    {"dilated_hw.", 3, 2, {3, 2}, {.padding = {2, 1}, .dilation = {2, 3}}},
    {"grouped.", 4, 6, 3, {.groups = 2}},
    {"depthwise.", 3, 3, 3, {.padding = 1, .groups = 3}},
    {"depthwise_x2.", 2, 4, 3, {.padding = 1, .groups = 2, .bias = false}},
    {"combined.", 6, 4, 3, {.stride = 2, .padding = 2, .dilation = 2, .groups = 2}},
    {"combined_hw.", 4, 8, {2, 3}, {.stride = {2, 1}, .padding = {1, 3}, .dilation = {3, 2}, .groups = 4}},
    {"wide_groups.", 32, 64, 3, {.groups = 4}},
};

// The configurations of tests/golden/conv2d_winograd.txt (tests/golden/make_golden_conv2d_winograd.py):
// 3x3, stride 1, channels in multiples of 16, so Winograd's F(2x2, 3x3) path with AVX-512 and AVX2.
const Config golden_winograd_configs[] = {
    {"mnist_conv2.", 32, 64, 3, {}},
    {"pad1.", 16, 32, 3, {.padding = 1}},
    {"nobias_pad2.", 16, 16, 3, {.padding = 2, .bias = false}},
};

// Values in {-2, ..., 2}: a convolution's sums of them are exact in float, in any order.
Tensor<float> small_integers(const Shape& shape, Generator& g) {
  Tensor<float> t(shape);
  for (index_t i = 0; i < t.numel(); ++i) t.data()[i] = static_cast<float>(g.below(5)) - 2.0f;
  return t;
}
bool same_values(const Tensor<float>& a, const Tensor<float>& b) {
  return a.shape() == b.shape() && (a.array() == b.array()).all();
}

// A 3x3 convolution of input x with `out` outputs, for the Winograd path's tests.
struct WinogradCase {
  Shape x;
  index_t out;
  nn::Conv2dOptions options;
};

// Whether Conv2d<T> takes the Winograd path for this layer and input.
template <class T>
bool takes_winograd(const Shape& x, index_t out, nn::Size2 kernel, const nn::Conv2dOptions& o) {
  const kernels::ConvGeometry g{x[0], x[1], x[2], x[3], kernel.h, kernel.w, o.stride.h, o.stride.w,
                                o.padding.h, o.padding.w, 0, 0, o.dilation.h, o.dilation.w};
  return kernels::winograd::applies<T>(g, out, o.groups);
}

// dweight[o, c, u, v] sums N*OH*OW products x * dy. Two float sums of the same terms in different
// orders (ember's and torch's) differ by up to a few ulps of sum |x * dy|, not of the result, and
// when the terms cancel that is far more than 1e-5 of the result: lenet1's dweight[100] has
// sum |terms| = 90.8 and the value -0.0536; exactly (in double) -0.05363613, torch -0.0536357,
// ember -0.0536373, both well inside 2^-24 * 90.8 = 5.4e-6 of the exact value. So dweight is
// checked with atol + 2^-23 * sum |terms| per element (sum |terms| from the naive loops on |x|
// and |dy| in double); a term lost or added (~0.5 here) still fails by five orders of magnitude.
// dbias[o] sums the N*OH*OW values dy[:, o] and is checked the same way: mnist_conv2's dbias[12]
// has sum |dy| = 80.8 and is exactly -0.04149191; torch gives -0.0414938 (1.9e-6 off) and ember
// -0.0414917, both inside 2^-24 * 80.8 = 4.8e-6, but 7.6e-6 apart.
struct SummationBounds {
  Tensor<double> dweight, dbias;
};
SummationBounds summation_bounds(const golden::File& g, const Config& c) {
  auto abs_of = [](const golden::Tensor& t) {
    auto a = test::to_tensor<double>(t);
    a.array() = a.array().abs();
    return a;
  };
  const auto x = abs_of(g[c.prefix + "x"]), dy = abs_of(g[c.prefix + "dy"]), w = abs_of(g[c.prefix + "weight"]);
  SummationBounds bound{Tensor<double>(w.shape()), Tensor<double>({c.out})};
  nn::reference::conv2d_backward<double>(x, w, dy, bound.dweight, &bound.dbias, c.options.stride, c.options.padding,
                                         c.options.dilation, c.options.groups);
  bound.dweight.array() *= std::ldexp(1.0, -23);
  bound.dbias.array() *= std::ldexp(1.0, -23);
  return bound;
}

void check_golden(const golden::File& g, const Config& c) {
  INFO("config " << c.prefix);
  nn::Conv2d<float> conv(c.in, c.out, c.kernel, c.options);
  conv.weight().value = test::to_tensor(g[c.prefix + "weight"]);
  if (c.options.bias) conv.bias().value = test::to_tensor(g[c.prefix + "bias"]);
  const auto x = test::to_tensor(g[c.prefix + "x"]);
  CHECK_CLOSE(conv.forward(x), g[c.prefix + "y"]);
  CHECK_CLOSE(conv.backward(test::to_tensor(g[c.prefix + "dy"])), g[c.prefix + "dx"]);
  const auto bound = summation_bounds(g, c);
  CHECK_CLOSE(conv.weight().grad, g[c.prefix + "dweight"], {.atol_each = &bound.dweight});
  if (c.options.bias) CHECK_CLOSE(conv.bias().grad, g[c.prefix + "dbias"], {.atol_each = &bound.dbias});
}

}  // namespace

TEST_CASE("Conv2d with dilation and groups matches torch 1.13 nn.Conv2d", "[conv2d][golden]") {
  const golden::File g("conv2d_groups.txt");  // computed with torch 1.13 nn.Conv2d (dilation, groups)
  for (const auto& c : golden_group_configs) check_golden(g, c);
}

TEST_CASE("Conv2d matches torch 1.13 nn.Conv2d forward and backward", "[conv2d][golden]") {
  const golden::File g("conv2d.txt");  // computed with torch 1.13 nn.Conv2d
  for (const auto& c : golden_configs) check_golden(g, c);
}

TEST_CASE("Conv2d by Winograd F(2x2, 3x3) matches torch 1.13 nn.Conv2d", "[conv2d][golden]") {
  const golden::File g("conv2d_winograd.txt");  // computed with torch 1.13 nn.Conv2d
  for (const auto& c : golden_winograd_configs) {
    REQUIRE(takes_winograd<float>(test::to_tensor(g[c.prefix + "x"]).shape(), c.out, c.kernel, c.options));
    check_golden(g, c);
  }
}

TEST_CASE("Conv2d by Winograd F(2x2, 3x3) matches the naive seven-loop convolution", "[conv2d][reference]") {
  // Channels in packets of doubles (8 with AVX-512, 4 with AVX2); outputs of odd and even height
  // and width (a last tile half outside), rows narrower and wider than a packet (the transposes'
  // one-at-a-time and overlapping-block paths), padding 0 to 3, one sample and several.
  constexpr index_t L = kernels::simd::lanes<double>;
  const WinogradCase cases[] = {
      {{1, L, 3, 3}, L, {}},
      {{2, L, 5, 4}, 2 * L, {.padding = 2, .bias = false}},
      {{3, 2 * L, 9, 11}, L, {.padding = 1}},
      {{2, 4 * L, 14, 14}, 8 * L, {}},
      {{2, L, 4, 3 * L + 1}, L, {.padding = 3}},
      {{3, 3 * L, 12, 13}, 2 * L, {}},
  };
  manual_seed(7);
  std::uint64_t seed = 200;
  for (const auto& c : cases) {
    for (const bool need_dx : {true, false}) {
      INFO("x " << c.x << " out " << c.out << " padding " << c.options.padding << " need_dx " << need_dx);
      REQUIRE(takes_winograd<double>(c.x, c.out, 3, c.options));
      nn::Conv2d<double> conv(c.x[1], c.out, 3, c.options);
      conv.set_needs_input_grad(need_dx);
      const auto x = random_tensor<double>(c.x, seed++);
      const Tensor<double> y = conv.forward(x);
      const Tensor<double>* b = c.options.bias ? &conv.bias().value : nullptr;
      const auto y_ref = nn::reference::conv2d_forward(x, conv.weight().value, b, 1, c.options.padding);
      REQUIRE(y.shape() == y_ref.shape());
      CHECK((y.array() - y_ref.array()).abs().maxCoeff() < 1e-12);
      conv.eval();
      CHECK((conv.forward(x).array() == y.array()).all());  // eval mode: the same code, no saved input
      conv.train();
      conv.forward(x);

      const auto dy = random_tensor<double>(y.shape(), seed++);
      const auto dx = conv.backward(dy);
      Tensor<double> dw_ref(conv.weight().value.shape()), db_ref({c.out});
      const auto dx_ref = nn::reference::conv2d_backward(x, conv.weight().value, dy, dw_ref,
                                                         c.options.bias ? &db_ref : nullptr, 1, c.options.padding);
      if (need_dx) CHECK((dx.array() - dx_ref.array()).abs().maxCoeff() < 1e-12);
      else CHECK(dx.numel() == 0);
      CHECK((conv.weight().grad.array() - dw_ref.array()).abs().maxCoeff() < 1e-12);
      if (c.options.bias) CHECK((conv.bias().grad.array() - db_ref.array()).abs().maxCoeff() < 1e-12);
    }
  }
}

TEST_CASE("Conv2d by Winograd F(2x2, 3x3) in float matches the naive convolution exactly on small integers",
          "[conv2d][reference]") {
  // The transforms' halves and quarters keep sums of small integers exact in float, so a value
  // moved or added in the wrong place shows as an inequality: rows wider than a packet (the
  // channels-last transposes' overlapping last block), several chunks of tiles per sample (a row
  // of 50 tiles is a chunk of its own), odd output sizes, unequal padding.
  constexpr index_t L = kernels::simd::lanes<float>;
  const WinogradCase cases[] = {
      {{2, L, 9, 2 * L + 3}, L, {}},
      {{2, L, 15, 18}, 2 * L, {.padding = {0, 2}}},
      {{1, 2 * L, 5, 100}, L, {.padding = 1}},
      {{3, L, 12, 13}, 4 * L, {.padding = {2, 1}, .bias = false}},
  };
  Generator g(9);
  for (const auto& c : cases) {
    INFO("x " << c.x << " out " << c.out << " padding " << c.options.padding);
    REQUIRE(takes_winograd<float>(c.x, c.out, 3, c.options));
    nn::Conv2d<float> conv(c.x[1], c.out, 3, c.options);
    conv.weight().value = small_integers(conv.weight().value.shape(), g);
    if (c.options.bias) conv.bias().value = small_integers({c.out}, g);
    const Tensor<float>* b = c.options.bias ? &conv.bias().value : nullptr;
    Tensor<float> x = small_integers(c.x, g);
    const auto& y = conv.forward(x);
    CHECK(same_values(y, nn::reference::conv2d_forward(x, conv.weight().value, b, 1, c.options.padding)));
    const auto dy = small_integers(y.shape(), g);
    const auto dx = conv.backward(dy);
    Tensor<float> dw_ref(conv.weight().value.shape()), db_ref({c.out});
    const auto dx_ref = nn::reference::conv2d_backward(x, conv.weight().value, dy, dw_ref,
                                                       c.options.bias ? &db_ref : nullptr, 1, c.options.padding);
    CHECK(same_values(dx, dx_ref));
    CHECK(same_values(conv.weight().grad, dw_ref));
    if (c.options.bias) CHECK(same_values(conv.bias().grad, db_ref));
    conv.forward(x);  // backward reads x again: writing to it first is an Error
    x.data()[0] += 1;
    CHECK_THROWS_WITH(conv.backward(dy), Catch::Contains("modified before backward"));
  }
}

TEST_CASE("Conv2d im2col + GEMM matches the naive seven-loop convolution on odd shapes", "[conv2d][reference]") {
  struct Case {
    Shape x;
    index_t out;
    nn::Size2 kernel;
    nn::Conv2dOptions options;
  };
  const Case cases[] = {
      {{1, 3, 5, 7}, 4, 3, {}},
      {{3, 3, 5, 7}, 2, 3, {.stride = 2, .padding = 1}},
      {{3, 1, 7, 5}, 5, {2, 3}, {.stride = {2, 1}, .padding = 2}},
      {{1, 2, 5, 7}, 3, 5, {.padding = 2, .bias = false}},
      {{3, 3, 6, 6}, 2, 1, {.stride = 3}},
      // stride 1 runs of OW values around a packet (8 doubles with AVX-512, 4 with AVX), tiny
      // planes whose packets would spill out of col, and padding wider than needed
      {{2, 2, 9, 9}, 3, 3, {.padding = 1}},
      {{2, 1, 10, 18}, 2, 3, {}},
      {{2, 1, 4, 3}, 2, {3, 2}, {}},
      {{2, 2, 2, 2}, 3, 1, {}},
      {{2, 3, 6, 19}, 4, {5, 3}, {.padding = {2, 1}}},
      {{2, 1, 1, 5}, 2, {1, 4}, {.padding = {0, 3}}},
      // dilation (stride 1 on the padded copy, and strided), groups, depthwise
      {{2, 2, 9, 11}, 3, 3, {.dilation = 2}},
      {{2, 3, 7, 19}, 2, {2, 3}, {.padding = {1, 2}, .dilation = {3, 4}}},
      {{2, 2, 9, 8}, 2, 3, {.stride = 2, .padding = 1, .dilation = 2}},
      {{2, 6, 5, 6}, 4, 3, {.padding = 1, .groups = 2}},
      {{2, 4, 6, 5}, 4, 3, {.groups = 4, .bias = false}},
      {{2, 3, 7, 7}, 6, {3, 2}, {.stride = {1, 2}, .padding = 2, .dilation = {2, 1}, .groups = 3}},
      {{2, 24, 5, 5}, 8, 3, {.padding = 1, .groups = 2}},  // patch 108 per group: Eigen's GEMM
      // columns over 32,768 values per sample: backward redoes the im2col from x (33 channels:
      // not whole packets, so not the Winograd path)
      {{3, 33, 14, 14}, 8, 3, {}},
      {{2, 16, 15, 13}, 4, 3, {.stride = 2, .padding = 1, .groups = 2}},
      {{2, 8, 30, 30}, 4, 3, {.padding = 2, .dilation = 2}},
  };
  manual_seed(4);
  std::uint64_t seed = 100;
  for (const auto& c : cases) {
    INFO("x " << c.x << " kernel " << c.kernel << " stride " << c.options.stride << " padding " << c.options.padding
              << " dilation " << c.options.dilation << " groups " << c.options.groups);
    REQUIRE(!takes_winograd<double>(c.x, c.out, c.kernel, c.options));
    nn::Conv2d<double> conv(c.x[1], c.out, c.kernel, c.options);
    const auto x = random_tensor<double>(c.x, seed++);
    const auto& y = conv.forward(x);
    const Tensor<double>* b = c.options.bias ? &conv.bias().value : nullptr;
    const auto y_ref = nn::reference::conv2d_forward(x, conv.weight().value, b, c.options.stride, c.options.padding,
                                                     c.options.dilation, c.options.groups);
    REQUIRE(y.shape() == y_ref.shape());
    CHECK((y.array() - y_ref.array()).abs().maxCoeff() < 1e-12);

    const auto dy = random_tensor<double>(y.shape(), seed++);
    const auto dx = conv.backward(dy);
    Tensor<double> dw_ref(conv.weight().value.shape()), db_ref({c.out});
    const auto dx_ref = nn::reference::conv2d_backward(x, conv.weight().value, dy, dw_ref,
                                                       c.options.bias ? &db_ref : nullptr, c.options.stride,
                                                       c.options.padding, c.options.dilation, c.options.groups);
    CHECK((dx.array() - dx_ref.array()).abs().maxCoeff() < 1e-12);
    CHECK((conv.weight().grad.array() - dw_ref.array()).abs().maxCoeff() < 1e-12);
    if (c.options.bias) CHECK((conv.bias().grad.array() - db_ref.array()).abs().maxCoeff() < 1e-12);
  }
}

TEST_CASE("Conv2d in float matches the naive convolution exactly with runs around 16 floats", "[conv2d][reference]") {
  // The stride-1 path copies and adds OW-value runs in packets (16 floats with AVX-512): widths
  // below, at and above a packet, and the seed models' shapes. Small integers make every sum
  // exact in float, so any value copied or added in the wrong place shows as an inequality.
  const auto integers = small_integers;
  const auto exact = same_values;
  const Shape shapes[] = {{3, 2, 9, 17}, {3, 2, 9, 18}, {3, 2, 9, 19}, {2, 1, 5, 35}, {2, 6, 14, 14}, {2, 1, 28, 28}};
  Generator g(6);
  for (const auto& s : shapes) {
    for (const index_t pad : {0, 2}) {
      INFO("x " << s << " padding " << pad);
      nn::Conv2d<float> conv(s[1], 3, {3, 3}, {.padding = pad});
      conv.weight().value = integers(conv.weight().value.shape(), g);
      conv.bias().value = integers({3}, g);
      const auto x = integers(s, g);
      const auto& y = conv.forward(x);
      CHECK(exact(y, nn::reference::conv2d_forward(x, conv.weight().value, &conv.bias().value, 1, pad)));
      const auto dy = integers(y.shape(), g);
      const auto dx = conv.backward(dy);
      Tensor<float> dw_ref(conv.weight().value.shape()), db_ref({3});
      const auto dx_ref = nn::reference::conv2d_backward(x, conv.weight().value, dy, dw_ref, &db_ref, 1, pad);
      CHECK(exact(dx, dx_ref));
      CHECK(exact(conv.weight().grad, dw_ref));
      CHECK(exact(conv.bias().grad, db_ref));
    }
  }
}

TEST_CASE("Conv2d passes the double-precision gradient check", "[conv2d][gradcheck]") {
  manual_seed(5);
  nn::Conv2d<double> seed_conv(1, 4, 3);
  auto r = nn::gradcheck(seed_conv, random_tensor<double>({2, 1, 5, 6}, 1));
  INFO(r.report);
  CHECK(r.ok);
  nn::Conv2d<double> strided(3, 2, {3, 2}, {.stride = {2, 1}, .padding = 1});
  r = nn::gradcheck(strided, random_tensor<double>({3, 3, 5, 7}, 2));
  INFO(r.report);
  CHECK(r.ok);
  CHECK(r.checked == 3 * 3 * 5 * 7 + 2 * 3 * 3 * 2 + 2);
  nn::Conv2d<double> grouped(4, 6, {3, 2}, {.stride = {1, 2}, .padding = 1, .dilation = {2, 1}, .groups = 2});
  r = nn::gradcheck(grouped, random_tensor<double>({2, 4, 6, 7}, 3));
  INFO(r.report);
  CHECK(r.ok);
  CHECK(r.checked == 2 * 4 * 6 * 7 + 6 * 2 * 3 * 2 + 6);
  constexpr index_t L = kernels::simd::lanes<double>;  // channels in packets: the Winograd path
  nn::Conv2d<double> winograd(L, L, 3, {.padding = 1});
  const Shape x{2, L, 4, 5};
  REQUIRE(takes_winograd<double>(x, L, 3, {.padding = 1}));
  r = nn::gradcheck(winograd, random_tensor<double>(x, 4));
  INFO(r.report);
  CHECK(r.ok);
  CHECK(r.checked == 2 * L * 4 * 5 + L * L * 9 + L);
}

TEST_CASE("Conv2d skips dx when its input needs no gradient", "[conv2d]") {
  nn::Conv2d<float> conv(1, 2, 3);
  conv.set_needs_input_grad(false);
  const Tensor<float> x({2, 1, 5, 5});
  Tensor<float> dy({2, 2, 3, 3});
  dy.fill(1);
  conv.forward(x);
  CHECK(conv.backward(dy).numel() == 0);
  CHECK(conv.bias().grad(1) == 18);
}

TEST_CASE("Conv2d names its shape errors", "[conv2d]") {
  nn::Conv2d<float> conv(3, 8, 5);
  const Tensor<float> gray({2, 1, 28, 28}), tiny({1, 3, 4, 4}), flat({2, 784});
  CHECK_THROWS_WITH(conv.forward(gray), Catch::Contains("Conv2d(3, 8, kernel_size=(5, 5), stride=(1, 1))") &&
                                            Catch::Contains("expected input of shape (N, 3, H, W), got (2, 1, 28, 28)"));
  CHECK_THROWS_WITH(conv.forward(tiny), Catch::Contains("does not fit the padded input (1, 3, 4, 4)"));
  CHECK_THROWS_WITH(conv.forward(flat), Catch::Contains("got (2, 784)"));
  CHECK_THROWS_AS(nn::Conv2d<float>(1, 1, 3, {.stride = 0}), Error);
  CHECK_THROWS_AS(nn::Conv2d<float>(1, 1, 0), Error);
  CHECK_THROWS_WITH(nn::Conv2d<float>(3, 4, 3, {.groups = 2}),
                    Catch::Contains("Conv2d(3, 4, kernel_size=(3, 3), stride=(1, 1), groups=2)") &&
                        Catch::Contains("in_channels (3) must be divisible by groups (2)"));
  CHECK_THROWS_WITH(nn::Conv2d<float>(4, 6, 3, {.groups = 4}),
                    Catch::Contains("Conv2d(4, 6") && Catch::Contains("out_channels (6) must be divisible by groups (4)"));
  CHECK_THROWS_WITH(nn::Conv2d<float>(2, 2, 3, {.dilation = 0}),
                    Catch::Contains("Conv2d(2, 2") && Catch::Contains("dilation must be positive, got (0, 0)"));
  CHECK_THROWS_WITH(nn::Conv2d<float>(2, 2, 3, {.dilation = {1, -1}}), Catch::Contains("dilation must be positive"));
  CHECK_THROWS_WITH(nn::Conv2d<float>(2, 2, 3, {.groups = 0}), Catch::Contains("groups must be positive"));
  nn::Conv2d<float> dilated(1, 1, 3, {.dilation = 3});  // spans 7 pixels
  const Tensor<float> short_input({1, 1, 6, 9});
  CHECK_THROWS_WITH(dilated.forward(short_input),
                    Catch::Contains("(dilation (3, 3)) does not fit the padded input (1, 1, 6, 9)"));
  CHECK(dilated.output_shape({1, 1, 7, 9}) == Shape{1, 1, 1, 3});
}

TEST_CASE("Conv2d init follows PyTorch: U(+-1/sqrt(C_in*kh*kw)) for weight and bias", "[conv2d][random]") {
  manual_seed(6);
  nn::Conv2d<double> conv(6, 16, 5);
  const double bound = 1.0 / std::sqrt(6.0 * 25);
  CHECK(conv.weight().value.array().abs().maxCoeff() <= bound);
  CHECK(conv.weight().value.array().abs().maxCoeff() > 0.98 * bound);
  CHECK(conv.bias().value.array().abs().maxCoeff() <= bound);
  const auto w = conv.weight().value.array();
  CHECK(w.square().mean() == Approx(bound * bound / 3).epsilon(0.1));  // 2,400 samples of U(-b, b)
}

TEST_CASE("Conv2d in eval mode gives train mode's outputs with one sample's columns per thread", "[conv2d]") {
  manual_seed(7);
  const int threads_before = get_num_threads();
  for (const index_t groups : {1, 2}) {
    nn::Conv2d<float> conv(4, 6, 3, {.padding = 1, .groups = groups});
    const auto x = random_tensor<float>({5, 4, 7, 6}, 8);
    const Tensor<float> y_train = conv.forward(x);
    conv.eval();
    for (const int threads : {1, 2}) {
      set_num_threads(threads);
      const auto& y_eval = conv.forward(x);
      CHECK((y_eval.array() == y_train.array()).all());
    }
    set_num_threads(threads_before);
  }
}

TEST_CASE("Conv2d with large columns redoes the im2col in backward, and refuses an input written to meanwhile",
          "[conv2d]") {
  manual_seed(8);
  nn::Conv2d<float> conv(33, 8, 3);  // 297 x 144 = 42,768 values per sample: recomputed
  REQUIRE(!takes_winograd<float>({2, 33, 14, 14}, 8, 3, {}));  // 33 channels: the im2col path
  Tensor<float> x = random_tensor<float>({2, 33, 14, 14}, 9);
  const auto dy = random_tensor<float>({2, 8, 12, 12}, 10);
  conv.forward(x);
  const Tensor<float> dx = conv.backward(dy);
  const Tensor<float> dw = conv.weight().grad;
  conv.zero_grad();
  conv.forward(x);
  CHECK((conv.backward(dy).array() == dx.array()).all());  // the same im2col, the same sums
  CHECK((conv.weight().grad.array() == dw.array()).all());
  conv.forward(x);
  x.data()[0] += 1;
  CHECK_THROWS_WITH(conv.backward(dy), Catch::Contains("Conv2d(33, 8") && Catch::Contains("modified before backward"));
}

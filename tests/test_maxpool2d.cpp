#include <ember/ember.hpp>
#include <ember/nn/gradcheck.hpp>

#include <catch2/catch.hpp>

#include "helpers.hpp"

using namespace ember;

namespace {
using test::random_tensor;
}  // namespace

TEST_CASE("MaxPool2d matches torch 1.13 nn.MaxPool2d, ties and overlapping windows included", "[maxpool2d][golden]") {
  const golden::File g("maxpool2d.txt");  // computed with torch 1.13 nn.MaxPool2d
  struct Config {
    std::string prefix;
    nn::MaxPool2d<float> pool;
  };
  Config configs[] = {
      {"k2.", nn::MaxPool2d<float>(2)},
      {"odd.", nn::MaxPool2d<float>(2)},
      {"stride1.", nn::MaxPool2d<float>(3, 1)},
      {"stride3k2.", nn::MaxPool2d<float>(2, 3)},
      {"pad1.", nn::MaxPool2d<float>(3, 2, 1)},
      {"ties.", nn::MaxPool2d<float>(2)},
  };
  for (auto& [prefix, pool] : configs) {
    INFO("config " << prefix);
    const auto x = test::to_tensor(g[prefix + "x"]);
    CHECK_CLOSE(pool.forward(x), g[prefix + "y"]);
    CHECK_CLOSE(pool.backward(test::to_tensor(g[prefix + "dy"])), g[prefix + "dx"]);
  }
}

TEST_CASE("MaxPool2d matches the naive loops on odd shapes, in floor and ceil mode", "[maxpool2d][reference]") {
  struct Case {
    Shape x;
    nn::Size2 k, s, p;
  };
  const Case cases[] = {{{1, 3, 5, 7}, 2, 2, 0}, {{3, 2, 7, 5}, 3, 2, 1}, {{3, 1, 6, 6}, {2, 3}, {1, 2}, {1, 1}},
                        {{1, 2, 9, 9}, 3, 3, 0}, {{1, 2, 5, 5}, 2, 2, 1}, {{2, 1, 8, 7}, 3, {3, 2}, 1}};
  std::uint64_t seed = 40;
  for (const auto& c : cases)
    for (const bool ceil_mode : {false, true}) {
      INFO("x " << c.x << " kernel " << c.k << " stride " << c.s << " padding " << c.p << " ceil_mode " << ceil_mode);
      // Rounded to a few values, so windows hold ties.
      auto x = random_tensor<double>(c.x, seed++);
      for (index_t i = 0; i < x.numel(); ++i) x.data()[i] = std::round(x.data()[i]);
      nn::MaxPool2d<double> pool(c.k, c.s, c.p, {.ceil_mode = ceil_mode});
      const auto& y = pool.forward(x);
      const auto dy = random_tensor<double>(y.shape(), seed++);
      Tensor<double> dx_ref;
      const auto y_ref = nn::reference::maxpool2d_forward(x, c.k, c.s, c.p, &dx_ref, &dy, ceil_mode);
      REQUIRE(y.shape() == y_ref.shape());
      CHECK((y.array() == y_ref.array()).all());
      const auto& dx = pool.backward(dy);
      CHECK((dx.array() - dx_ref.array()).abs().maxCoeff() < 1e-15);
    }
}

TEST_CASE("MaxPool2d's 2x2 kernels match the naive loops at every width, with ties and NaN", "[maxpool2d][reference]") {
  // Planes up to a packet wide (16 floats, 8 doubles with AVX-512) take a three-pass kernel,
  // wider ones a two-pass kernel; both must pick the window's first maximum, and a NaN.
  const auto check = [](auto zero, index_t width, std::uint64_t seed) {
    using T = decltype(zero);
    INFO("type " << (sizeof(T) == 4 ? "float" : "double") << " width " << width);
    Generator g(seed);
    Tensor<T> x({3, 2, 6, width});
    for (index_t i = 0; i < x.numel(); ++i) x.data()[i] = static_cast<T>(g.below(3));  // many ties
    x.data()[g.below(static_cast<std::uint64_t>(x.numel()))] = std::numeric_limits<T>::quiet_NaN();
    nn::MaxPool2d<T> pool(2);
    const auto& y = pool.forward(x);
    const auto dy = random_tensor<T>(y.shape(), seed);
    Tensor<T> dx_ref;
    const auto y_ref = nn::reference::maxpool2d_forward(x, 2, 2, 0, &dx_ref, &dy);
    REQUIRE(y.shape() == y_ref.shape());
    CHECK((y.array() == y_ref.array() || (y.array() != y.array() && y_ref.array() != y_ref.array())).all());
    CHECK((pool.backward(dy).array() == dx_ref.array()).all());
  };
  for (const index_t width : {2, 4, 8, 10, 14, 16, 18, 26, 28, 34}) {
    check(0.0f, width, 50 + static_cast<std::uint64_t>(width));
    check(0.0, width, 90 + static_cast<std::uint64_t>(width));
  }
}

TEST_CASE("MaxPool2d passes the double-precision gradient check", "[maxpool2d][gradcheck]") {
  nn::MaxPool2d<double> pool(2);
  auto r = nn::gradcheck(pool, random_tensor<double>({2, 3, 6, 5}, 7));
  INFO(r.report);
  CHECK(r.ok);
  nn::MaxPool2d<double> overlapping(3, 1, 1);
  r = nn::gradcheck(overlapping, random_tensor<double>({1, 2, 5, 5}, 8));
  INFO(r.report);
  CHECK(r.ok);
}

TEST_CASE("MaxPool2d names its shape errors", "[maxpool2d]") {
  nn::MaxPool2d<float> pool(5);
  const Tensor<float> small({1, 1, 3, 3}), flat({2, 10});
  CHECK_THROWS_WITH(pool.forward(small), Catch::Contains("MaxPool2d(kernel_size=5") &&
                                             Catch::Contains("does not fit the input (1, 1, 3, 3)"));
  CHECK_THROWS_WITH(pool.forward(flat), Catch::Contains("expected input of shape (N, C, H, W), got (2, 10)"));
  CHECK_THROWS_WITH(nn::MaxPool2d<float>(2, 2, 2), Catch::Contains("half the kernel size"));
}

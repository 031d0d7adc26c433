// examples/digit.hpp: a picture prepared the way the MNIST digits were made.
#include "../examples/digit.hpp"

#include <cmath>

#include <catch2/catch.hpp>

namespace {
struct Moments {
  double mass = 0, cx = 0, cy = 0;
  int left = 28, right = -1, top = 28, bottom = -1;
};
Moments moments(const std::vector<float>& field) {
  Moments m;
  for (int y = 0; y < 28; ++y)
    for (int x = 0; x < 28; ++x) {
      const double v = field[static_cast<std::size_t>(y * 28 + x)];
      m.mass += v, m.cx += v * (x + 0.5), m.cy += v * (y + 0.5);
      if (v > 0) m.left = std::min(m.left, x), m.right = std::max(m.right, x), m.top = std::min(m.top, y), m.bottom = std::max(m.bottom, y);
    }
  m.cx /= m.mass, m.cy /= m.mass;
  return m;
}
}  // namespace

TEST_CASE("area averaging keeps the mean and averages whole blocks", "[digit]") {
  digit::Grey g{4, 2, {0, 2, 4, 6, 8, 10, 12, 14}};
  const auto half = digit::resize_area(g, 2, 1);
  CHECK(half.pixels[0] == Approx((0 + 2 + 8 + 10) / 4.0));
  CHECK(half.pixels[1] == Approx((4 + 6 + 12 + 14) / 4.0));
  const auto third = digit::resize_area(g, 3, 2);  // fractional overlaps: 4/3 source pixels each
  double mean = 0;
  for (float v : third.pixels) mean += v / 6;
  CHECK(mean == Approx(7.0));
  CHECK(third.pixels[0] == Approx((0 + 2 * (1.0 / 3)) * 3 / 4));
}

TEST_CASE("dark ink on light paper, off-centre: inverted, fit to 20 pixels, centred by mass", "[digit]") {
  // A dark bar 40 high and 10 wide near the top left of a 100x60 light-grey page.
  digit::Grey page{100, 60, std::vector<float>(6000, 200.0f)};
  for (int y = 5; y < 45; ++y)
    for (int x = 8; x < 18; ++x) page.pixels[static_cast<std::size_t>(y * 100 + x)] = 20.0f;
  const auto field = digit::to_mnist(page);
  const auto m = moments(field);
  CHECK(m.bottom - m.top + 1 == 20);  // the long side fits 20 pixels
  CHECK(m.right - m.left + 1 == 5);   // keeping the aspect ratio, 40:10
  CHECK(m.cx == Approx(14).margin(0.5));
  CHECK(m.cy == Approx(14).margin(0.5));
  CHECK(*std::max_element(field.begin(), field.end()) == Approx(1.0f));  // full ink is 1
  CHECK(field[0] == 0.0f);                                             // the paper is 0
}

TEST_CASE("an MNIST digit (light ink on black, 20 pixels, centred) stays as it was", "[digit]") {
  // A ring 20 high centred in 28x28, as MNIST's zeros are.
  digit::Grey g{28, 28, std::vector<float>(784, 0.0f)};
  for (int y = 0; y < 28; ++y)
    for (int x = 0; x < 28; ++x) {
      const double r = std::hypot((x + 0.5 - 14) / 7.0, (y + 0.5 - 14) / 10.0);
      if (r > 0.7 && r <= 1.0) g.pixels[static_cast<std::size_t>(y * 28 + x)] = 255;
    }
  const auto field = digit::to_mnist(g);
  for (std::size_t i = 0; i < field.size(); ++i) CHECK(field[i] == Approx(g.pixels[i] / 255).margin(1e-6));
}

TEST_CASE("a picture of one shade has no ink", "[digit]") {
  digit::Grey blank{10, 10, std::vector<float>(100, 255.0f)};
  CHECK_THROWS_WITH(digit::to_mnist(blank), Catch::Contains("no ink"));
}

#include <ember/ember.hpp>

#include <catch2/catch.hpp>
#include <cmath>

using namespace ember;

TEST_CASE("the same seed gives the same weights on every run", "[random]") {
  manual_seed(42);
  nn::Linear<float> a(784, 128);
  manual_seed(42);
  nn::Linear<float> b(784, 128);
  nn::Linear<float> c(784, 128);  // the generator moved on: different weights
  CHECK((a.weight().value.array() == b.weight().value.array()).all());
  CHECK((a.bias().value.array() == b.bias().value.array()).all());
  CHECK_FALSE((a.weight().value.array() == c.weight().value.array()).all());
}

TEST_CASE("Generator is pinned: the first draws of seed 0 do not change between versions", "[random]") {
  // mt19937_64 is specified bit for bit by the C++ standard; ember's mapping to [0, 1) is its own.
  Generator g(0);
  CHECK(g.next_u64() == 2947667278772165694ull);
  Generator h(0);
  CHECK(h.uniform() == Approx(static_cast<double>(2947667278772165694ull) / 18446744073709551616.0).epsilon(1e-15));
}

TEST_CASE("Linear init follows PyTorch's kaiming_uniform(a=sqrt(5)) and bias bounds", "[random]") {
  // torch.nn.Linear.reset_parameters: weight ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)), bias the same bound.
  manual_seed(1);
  const index_t fan_in = 400;
  nn::Linear<double> l(fan_in, 500);
  const double bound = 1.0 / std::sqrt(static_cast<double>(fan_in));
  const auto w = l.weight().value.array();
  CHECK(w.maxCoeff() <= bound);
  CHECK(w.minCoeff() >= -bound);
  CHECK(w.maxCoeff() > 0.99 * bound);  // the whole range is used
  CHECK(w.minCoeff() < -0.99 * bound);
  const double n = static_cast<double>(w.size());
  const double mean = w.mean();
  const double var = (w - mean).square().sum() / n;
  // U(-b, b): mean 0, variance b^2 / 3. With 200,000 samples the standard error of the mean is
  // b / sqrt(3 n) ~ 1.3e-3 b; of the variance ~ 0.2%.
  CHECK(std::abs(mean) < 5e-3 * bound);
  CHECK(var == Approx(bound * bound / 3).epsilon(0.02));
  const auto b = l.bias().value.array();
  CHECK(b.maxCoeff() <= bound);
  CHECK(b.minCoeff() >= -bound);
}

TEST_CASE("Generator::below is uniform over its range", "[random]") {
  Generator g(3);
  int counts[5] = {};
  for (int i = 0; i < 50000; ++i) ++counts[g.below(5)];
  for (int c : counts) CHECK(std::abs(c - 10000) < 400);  // ~4.5 standard deviations
}

TEST_CASE("Generator's state carries it over: a copy from the state draws the same numbers", "[random]") {
  Generator a(42);
  for (int i = 0; i < 1000; ++i) a.next_u64();  // somewhere in the middle of a block
  Generator b(7);
  b.set_state(a.state());
  for (int i = 0; i < 1000; ++i) REQUIRE(a.next_u64() == b.next_u64());
  const auto before = b.state();
  CHECK_THROWS_WITH(b.set_state("1 2 3"), Catch::Contains("not an mt19937_64 state") && Catch::Contains("1 2 3"));
  CHECK_THROWS_WITH(b.set_state(a.state() + " 99"), Catch::Contains("not an mt19937_64 state"));
  CHECK(b.state() == before);  // a failed set_state changes nothing
}

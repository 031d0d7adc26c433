#include <ember/ember.hpp>
#include <ember/nn/gradcheck.hpp>

#include <catch2/catch.hpp>

#include "helpers.hpp"

using namespace ember;

TEST_CASE("Flatten matches torch 1.13 nn.Flatten() and does not copy", "[flatten][golden]") {
  const golden::File g("flatten.txt");  // computed with torch 1.13 nn.Flatten()
  nn::Flatten<float> flatten;
  const auto x = test::to_tensor(g["x"]);
  const auto& y = flatten.forward(x);
  CHECK_CLOSE(y, g["y"]);
  CHECK(y.data() == x.data());
  CHECK_CLOSE(flatten.backward(test::to_tensor(g["dy"])), g["dx"]);
}

TEST_CASE("Flatten start_dim and end_dim follow PyTorch", "[flatten]") {
  Tensor<float> x({2, 3, 4, 5});
  CHECK(nn::Flatten<float>(0).forward(x).shape() == Shape{120});
  CHECK(nn::Flatten<float>(1, 2).forward(x).shape() == Shape{2, 12, 5});
  CHECK(nn::Flatten<float>(-2).forward(x).shape() == Shape{2, 3, 20});
  CHECK_THROWS_WITH(nn::Flatten<float>(3, 1).forward(x), Catch::Contains("cannot flatten an input of shape (2, 3, 4, 5)"));
}

TEST_CASE("Flatten passes the double-precision gradient check", "[flatten][gradcheck]") {
  Generator gen(6);
  Tensor<double> x({2, 3, 2, 2});
  for (index_t i = 0; i < x.numel(); ++i) x.data()[i] = gen.normal();
  nn::Flatten<double> flatten;
  const auto r = nn::gradcheck(flatten, x);
  INFO(r.report);
  CHECK(r.ok);
}

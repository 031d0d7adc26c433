#include <ember/ember.hpp>
#include <ember/nn/gradcheck.hpp>

#include <catch2/catch.hpp>

#include "helpers.hpp"

using namespace ember;

TEST_CASE("ReLU matches torch 1.13 nn.ReLU, including the gradient 0 at x == 0", "[relu][golden]") {
  const golden::File g("relu.txt");  // computed with torch 1.13 nn.ReLU on x with exact zeros
  nn::ReLU<float> relu;
  CHECK_CLOSE(relu.forward(test::to_tensor(g["x"])), g["y"]);
  CHECK_CLOSE(relu.backward(test::to_tensor(g["dy"])), g["dx"]);
}

TEST_CASE("ReLU passes the double-precision gradient check", "[relu][gradcheck]") {
  Generator gen(5);
  Tensor<double> x({3, 4, 5});
  for (index_t i = 0; i < x.numel(); ++i) x.data()[i] = gen.normal();
  nn::ReLU<double> relu;
  const auto r = nn::gradcheck(relu, x);
  INFO(r.report);
  CHECK(r.ok);
}

TEST_CASE("ReLU checks dy against its output", "[relu]") {
  nn::ReLU<float> relu;
  CHECK_THROWS_WITH(relu.backward(Tensor<float>({2})), Catch::Contains("needs a forward()"));
  relu.forward(Tensor<float>({2, 3}));
  CHECK_THROWS_WITH(relu.backward(Tensor<float>({3, 2})), Catch::Contains("expected dy of shape (2, 3)"));
}

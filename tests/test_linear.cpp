#include <ember/ember.hpp>
#include <ember/nn/gradcheck.hpp>

#include <catch2/catch.hpp>

#include "helpers.hpp"

using namespace ember;

namespace {
Tensor<double> random_input(Shape s, std::uint64_t seed) { return test::random_tensor<double>(s, seed); }
}  // namespace

TEST_CASE("Linear matches torch 1.13 nn.Linear(5, 3) forward and backward", "[linear][golden]") {
  const golden::File g("linear.txt");  // computed with torch 1.13 nn.Linear(5, 3)
  nn::Linear<float> layer(5, 3);
  layer.weight().value = test::to_tensor(g["weight"]);
  layer.bias().value = test::to_tensor(g["bias"]);
  const auto x = test::to_tensor(g["x"]);
  CHECK_CLOSE(layer.forward(x), g["y"]);
  CHECK_CLOSE(layer.backward(test::to_tensor(g["dy"])), g["dx"]);
  CHECK_CLOSE(layer.weight().grad, g["dweight"]);
  CHECK_CLOSE(layer.bias().grad, g["dbias"]);
}

TEST_CASE("Linear without bias matches torch 1.13 nn.Linear(5, 3, bias=False)", "[linear][golden]") {
  const golden::File g("linear.txt");
  nn::Linear<float> layer(5, 3, false);
  layer.weight().value = test::to_tensor(g["nobias.weight"]);
  CHECK(layer.named_parameters().size() == 1);
  const auto x = test::to_tensor(g["nobias.x"]);
  CHECK_CLOSE(layer.forward(x), g["nobias.y"]);
  CHECK_CLOSE(layer.backward(test::to_tensor(g["nobias.dy"])), g["nobias.dx"]);
  CHECK_CLOSE(layer.weight().grad, g["nobias.dweight"]);
  CHECK_THROWS_WITH(layer.bias(), Catch::Contains("no bias"));
}

TEST_CASE("Linear gradients pass the double-precision gradient check", "[linear][gradcheck]") {
  manual_seed(3);
  nn::Linear<double> with_bias(7, 5);
  auto r = nn::gradcheck(with_bias, random_input({4, 7}, 2));
  INFO(r.report);
  CHECK(r.ok);
  nn::Linear<double> no_bias(3, 6, false);
  r = nn::gradcheck(no_bias, random_input({2, 3}, 4));
  INFO(r.report);
  CHECK(r.ok);
}

TEST_CASE("Linear skips dx when its input needs no gradient", "[linear]") {
  nn::Linear<float> layer(4, 2);
  layer.set_needs_input_grad(false);
  Tensor<float> x({3, 4}), dy({3, 2});
  dy.fill(1);
  layer.forward(x);
  CHECK(layer.backward(dy).numel() == 0);
  CHECK(layer.bias().grad(0) == 3);  // parameter grads are still computed
}

TEST_CASE("Linear names its shape errors", "[linear]") {
  nn::Linear<float> layer(2704, 10);
  const Tensor<float> wrong({64, 2028}), image({64, 1, 52, 52}), right({64, 2704});
  CHECK_THROWS_WITH(layer.forward(wrong),
                    Catch::Contains("Linear(in_features=2704, out_features=10, bias=True)") &&
                        Catch::Contains("expected input of shape (N, 2704), got (64, 2028)"));
  CHECK_THROWS_WITH(layer.forward(image), Catch::Contains("use nn::Flatten"));
  CHECK_THROWS_WITH(layer.backward(Tensor<float>({64, 10})), Catch::Contains("needs a forward()"));
  layer.forward(right);
  CHECK_THROWS_WITH(layer.backward(Tensor<float>({64, 11})), Catch::Contains("expected dy of shape (64, 10)"));
  CHECK_THROWS_AS(nn::Linear<float>(0, 3), Error);
}

TEST_CASE("Linear in eval mode keeps nothing for backward", "[linear]") {
  nn::Linear<float> layer(3, 2);
  layer.eval();
  const Tensor<float> x({1, 3});
  layer.forward(x);
  CHECK_THROWS_WITH(layer.backward(Tensor<float>({1, 2})), Catch::Contains("train mode"));
}

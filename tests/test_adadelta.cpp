#include <ember/ember.hpp>

#include <catch2/catch.hpp>

#include "helpers.hpp"

using namespace ember;

TEST_CASE("Adadelta follows torch 1.13 optim.Adadelta for every option", "[adadelta][golden]") {
  const golden::File g("adadelta.txt");  // computed with torch 1.13 optim.Adadelta; options in the file's comments
  test::check_optimizer_against_torch<optim::Adadelta<float>>(g, "default", {});
  test::check_optimizer_against_torch<optim::Adadelta<float>>(g, "lr", {.lr = 0.5});
  test::check_optimizer_against_torch<optim::Adadelta<float>>(g, "rho", {.rho = 0.5});
  test::check_optimizer_against_torch<optim::Adadelta<float>>(g, "eps", {.eps = 1e-3});
  test::check_optimizer_against_torch<optim::Adadelta<float>>(g, "weight_decay", {.weight_decay = 0.1});
  test::check_optimizer_against_torch<optim::Adadelta<float>>(g, "all", {.lr = 0.7, .rho = 0.8, .eps = 1e-4, .weight_decay = 0.05});
}

TEST_CASE("Adadelta fails the golden values with a wrong option", "[adadelta][golden]") {
  // The comparison is tight enough to see a 1% change of rho.
  const golden::File g("adadelta.txt");
  nn::Parameter<float> p{test::to_tensor(g["p0"]), Tensor<float>({3, 4})};
  optim::Adadelta optimizer(std::vector<nn::Parameter<float>*>{&p}, {.rho = 0.909});
  for (int k = 1; k <= 5; ++k) {
    p.grad = test::to_tensor(g["g" + std::to_string(k)]);
    optimizer.step();
  }
  CHECK_FALSE(test::mismatch(p.value, g["default.step5"]).empty());
}

TEST_CASE("Adadelta rejects bad options", "[adadelta]") {
  nn::Parameter<float> p{Tensor<float>({2}), Tensor<float>({2})};
  std::vector<nn::Parameter<float>*> params{&p};
  CHECK_THROWS_WITH(optim::Adadelta<float>(params, {.lr = -1}), Catch::Contains("Adadelta: invalid learning rate -1"));
  CHECK_THROWS_WITH(optim::Adadelta<float>(params, {.rho = 1.5}), Catch::Contains("invalid rho 1.5"));
  CHECK_THROWS_WITH(optim::Adadelta<float>(params, {.eps = -1}), Catch::Contains("invalid eps"));
  CHECK_THROWS_WITH(optim::Adadelta<float>(params, {.weight_decay = -1}), Catch::Contains("invalid weight_decay"));
  CHECK_NOTHROW(optim::Adadelta<float>(params, {.rho = 1.0}));  // torch accepts rho in [0, 1]
}

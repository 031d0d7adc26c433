#include <ember/ember.hpp>

#include <catch2/catch.hpp>

#include "helpers.hpp"

using namespace ember;

namespace {
void check_against_torch(const golden::File& g, const std::string& config, optim::AdamOptions options) {
  INFO("config " << config);
  nn::Parameter<float> p{test::to_tensor(g["p0"]), Tensor<float>({3, 4})};
  optim::Adam optimizer(std::vector<nn::Parameter<float>*>{&p}, options);
  for (int k = 1; k <= 5; ++k) {
    optimizer.zero_grad();
    p.grad = test::to_tensor(g["g" + std::to_string(k)]);
    optimizer.step();
    if (k == 1) CHECK_CLOSE(p.value, g[config + ".step1"]);
  }
  CHECK(optimizer.step_count() == 5);
  CHECK_CLOSE(p.value, g[config + ".step5"]);
}
}  // namespace

TEST_CASE("Adam follows torch 1.13 optim.Adam for every option", "[adam][golden]") {
  const golden::File g("adam.txt");  // computed with torch 1.13 optim.Adam; options in the file's comments
  check_against_torch(g, "default", {.lr = 1e-3});
  check_against_torch(g, "lr", {.lr = 0.1});
  check_against_torch(g, "betas", {.lr = 0.01, .betas = {0.8, 0.9}});
  check_against_torch(g, "eps", {.lr = 0.01, .eps = 1e-3});
  check_against_torch(g, "weight_decay", {.lr = 0.01, .weight_decay = 0.1});
  check_against_torch(g, "amsgrad", {.lr = 0.01, .amsgrad = true});
  check_against_torch(g, "all", {.lr = 0.02, .betas = {0.85, 0.95}, .eps = 1e-6, .weight_decay = 0.05, .amsgrad = true});
}

TEST_CASE("Adam rejects bad options", "[adam]") {
  nn::Parameter<float> p{Tensor<float>({2}), Tensor<float>({2})};
  std::vector<nn::Parameter<float>*> params{&p};
  CHECK_THROWS_WITH(optim::Adam<float>(params, {.lr = -1e-3}), Catch::Contains("invalid learning rate"));
  CHECK_THROWS_WITH(optim::Adam<float>(params, {.betas = {1.0, 0.999}}), Catch::Contains("invalid beta1 1"));
  CHECK_THROWS_WITH(optim::Adam<float>(params, {.betas = {0.9, -0.1}}), Catch::Contains("invalid beta2 -0.1"));
  CHECK_THROWS_WITH(optim::Adam<float>(params, {.eps = -1}), Catch::Contains("invalid eps"));
  CHECK_THROWS_WITH(optim::Adam<float>(params, {.weight_decay = -1}), Catch::Contains("invalid weight_decay"));
}

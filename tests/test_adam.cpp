#include <ember/ember.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <vector>

#include "helpers.hpp"

using namespace ember;

TEST_CASE("Adam follows torch 1.13 optim.Adam for every option", "[adam][golden]") {
  const golden::File g("adam.txt");  // computed with torch 1.13 optim.Adam; options in the file's comments
  test::check_optimizer_against_torch<optim::Adam<float>>(g, "default", {.lr = 1e-3});
  test::check_optimizer_against_torch<optim::Adam<float>>(g, "lr", {.lr = 0.1});
  test::check_optimizer_against_torch<optim::Adam<float>>(g, "betas", {.lr = 0.01, .betas = {0.8, 0.9}});
  test::check_optimizer_against_torch<optim::Adam<float>>(g, "eps", {.lr = 0.01, .eps = 1e-3});
  test::check_optimizer_against_torch<optim::Adam<float>>(g, "weight_decay", {.lr = 0.01, .weight_decay = 0.1});
  test::check_optimizer_against_torch<optim::Adam<float>>(g, "amsgrad", {.lr = 0.01, .amsgrad = true});
  test::check_optimizer_against_torch<optim::Adam<float>>(g, "all", {.lr = 0.02, .betas = {0.85, 0.95}, .eps = 1e-6, .weight_decay = 0.05, .amsgrad = true});
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

TEST_CASE("Adam's amsgrad set through options() before the first step works as torch's, after it is refused",
          "[adam][golden]") {
  // torch makes the state at the first step, so a param group's 'amsgrad' set before it is used
  // (golden values computed with torch 1.13 optim.Adam, config 'amsgrad'); set after it, torch's
  // step fails (KeyError 'max_exp_avg_sq'). ember's step used to write into a max_exp_avg_sq it
  // had not made (out of bounds).
  const golden::File g("adam.txt");
  nn::Parameter<float> p{test::to_tensor(g["p0"]), Tensor<float>({3, 4})};
  optim::Adam optimizer(std::vector<nn::Parameter<float>*>{&p}, {.lr = 0.01});
  optimizer.options().amsgrad = true;
  for (int k = 1; k <= 5; ++k) {
    p.grad = test::to_tensor(g["g" + std::to_string(k)]);
    optimizer.step();
  }
  CHECK(optimizer.max_exp_avg_sq()[0].numel() == 12);
  CHECK_CLOSE(p.value, g["amsgrad.step5"]);

  optim::Adam late(std::vector<nn::Parameter<float>*>{&p}, {.lr = 0.01});
  late.step();
  late.options().amsgrad = true;
  const std::vector<float> before(p.value.data(), p.value.data() + p.value.numel());
  const std::vector<float> m(late.exp_avg()[0].data(), late.exp_avg()[0].data() + 12);
  CHECK_THROWS_WITH(late.step(), Catch::Contains("Adam: amsgrad was turned on after the first step"));
  CHECK(late.step_count() == 1);
  // The failed step changed nothing: neither the parameter nor the state.
  CHECK(std::equal(before.begin(), before.end(), p.value.data()));
  CHECK(std::equal(m.begin(), m.end(), late.exp_avg()[0].data()));
  CHECK(late.max_exp_avg_sq()[0].numel() == 0);
}

#include <ember/ember.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <vector>

#include "helpers.hpp"

using namespace ember;

TEST_CASE("AdamW follows torch 1.13 optim.AdamW for every option", "[adamw][golden]") {
  const golden::File g("adamw.txt");  // computed with torch 1.13 optim.AdamW; options in the file's comments
  using A = optim::AdamW<float>;
  using O = optim::AdamWOptions;
  test::check_optimizer_against_torch<A>(g, "default", O{});
  test::check_optimizer_against_torch<A>(g, "lr", O{.lr = 0.1});
  test::check_optimizer_against_torch<A>(g, "betas", O{.lr = 0.01, .betas = {0.8, 0.9}});
  test::check_optimizer_against_torch<A>(g, "eps", O{.lr = 0.01, .eps = 1e-3});
  test::check_optimizer_against_torch<A>(g, "weight_decay", O{.lr = 0.01, .weight_decay = 0.5});
  test::check_optimizer_against_torch<A>(g, "no_decay", O{.lr = 0.01, .weight_decay = 0});
  test::check_optimizer_against_torch<A>(g, "amsgrad", O{.lr = 0.01, .amsgrad = true});
  test::check_optimizer_against_torch<A>(g, "all", O{.lr = 0.02, .betas = {0.85, 0.95}, .eps = 1e-6, .weight_decay = 0.3, .amsgrad = true});
}

TEST_CASE("AdamW's decay is decoupled: Adam's L2 decay misses torch's AdamW values", "[adamw][golden]") {
  const golden::File g("adamw.txt");
  nn::Parameter<float> p{test::to_tensor(g["p0"]), Tensor<float>({3, 4})};
  optim::Adam optimizer(std::vector<nn::Parameter<float>*>{&p}, {.lr = 0.01, .weight_decay = 0.5});
  for (int k = 1; k <= 5; ++k) {
    p.grad = test::to_tensor(g["g" + std::to_string(k)]);
    optimizer.step();
  }
  CHECK_FALSE(test::mismatch(p.value, g["weight_decay.step5"]).empty());
}

TEST_CASE("RMSprop follows torch 1.13 optim.RMSprop for every option", "[rmsprop][golden]") {
  const golden::File g("rmsprop.txt");  // computed with torch 1.13 optim.RMSprop; options in the file's comments
  using R = optim::RMSprop<float>;
  using O = optim::RMSpropOptions;
  test::check_optimizer_against_torch<R>(g, "default", O{});
  test::check_optimizer_against_torch<R>(g, "lr", O{.lr = 0.1});
  test::check_optimizer_against_torch<R>(g, "alpha", O{.alpha = 0.9});
  test::check_optimizer_against_torch<R>(g, "eps", O{.eps = 1e-2});
  test::check_optimizer_against_torch<R>(g, "weight_decay", O{.weight_decay = 0.1});
  test::check_optimizer_against_torch<R>(g, "momentum", O{.momentum = 0.9});
  test::check_optimizer_against_torch<R>(g, "centered", O{.centered = true});
  test::check_optimizer_against_torch<R>(g, "all", O{.lr = 0.02, .alpha = 0.8, .eps = 1e-4, .weight_decay = 0.05, .momentum = 0.7, .centered = true});
}

TEST_CASE("AdamW and RMSprop reject bad options", "[adamw][rmsprop]") {
  nn::Parameter<float> p{Tensor<float>({2}), Tensor<float>({2})};
  std::vector<nn::Parameter<float>*> params{&p};
  CHECK_THROWS_WITH(optim::AdamW<float>(params, {.lr = -1}), Catch::Contains("AdamW: invalid learning rate -1"));
  CHECK_THROWS_WITH(optim::AdamW<float>(params, {.betas = {1.0, 0.999}}), Catch::Contains("invalid beta1 1"));
  CHECK_THROWS_WITH(optim::AdamW<float>(params, {.betas = {0.9, 1.0}}), Catch::Contains("invalid beta2 1"));
  CHECK_THROWS_WITH(optim::AdamW<float>(params, {.eps = -1}), Catch::Contains("invalid eps"));
  CHECK_THROWS_WITH(optim::AdamW<float>(params, {.weight_decay = -1}), Catch::Contains("invalid weight_decay"));
  CHECK_THROWS_WITH(optim::RMSprop<float>(params, {.lr = -1}), Catch::Contains("RMSprop: invalid learning rate -1"));
  CHECK_THROWS_WITH(optim::RMSprop<float>(params, {.alpha = -0.5}), Catch::Contains("invalid alpha -0.5"));
  CHECK_THROWS_WITH(optim::RMSprop<float>(params, {.eps = -1}), Catch::Contains("invalid eps"));
  CHECK_THROWS_WITH(optim::RMSprop<float>(params, {.weight_decay = -1}), Catch::Contains("invalid weight_decay"));
  CHECK_THROWS_WITH(optim::RMSprop<float>(params, {.momentum = -1}), Catch::Contains("invalid momentum"));
}

TEST_CASE("set_momentum sets SGD's and RMSprop's momentum and Adam's and AdamW's beta1", "[optim]") {
  nn::Parameter<float> p{Tensor<float>({2}), Tensor<float>({2})};
  std::vector<nn::Parameter<float>*> params{&p};
  optim::SGD sgd(params, {.lr = 0.1});
  optim::RMSprop rmsprop(params);
  optim::Adam adam(params);
  optim::AdamW adamw(params);
  optim::Adadelta adadelta(params);
  sgd.set_momentum(0.9);
  rmsprop.set_momentum(0.8);
  adam.set_momentum(0.85);
  adamw.set_momentum(0.95);
  CHECK(sgd.options().momentum == 0.9);
  CHECK(rmsprop.options().momentum == 0.8);
  CHECK(adam.options().betas.first == 0.85);
  CHECK(adamw.options().betas.first == 0.95);
  CHECK(adamw.momentum() == 0.95);
  CHECK_FALSE(adadelta.has_momentum());
  CHECK_THROWS_WITH(adadelta.set_momentum(0.9), Catch::Contains("Adadelta: has no momentum"));
  CHECK_THROWS_WITH(adam.set_momentum(1.0), Catch::Contains("Adam: set_momentum(1): invalid beta1 1"));
  CHECK(adam.options().betas.first == 0.85);  // unchanged
}

TEST_CASE("RMSprop's centered and AdamW's amsgrad set through options() before the first step work as torch's",
          "[adamw][rmsprop][golden]") {
  // torch makes the state at the first step, so a param group's 'centered' or 'amsgrad' set
  // before it is used (golden values computed with torch 1.13, configs 'centered' and
  // 'amsgrad'); set after it, torch's step fails (KeyError 'grad_avg' / 'max_exp_avg_sq').
  // ember's step used to read and write the state tensor it had not made (out of bounds).
  const auto five_steps = [](auto& optimizer, nn::Parameter<float>& p, const golden::File& g) {
    for (int k = 1; k <= 5; ++k) {
      p.grad = test::to_tensor(g["g" + std::to_string(k)]);
      optimizer.step();
    }
  };
  SECTION("RMSprop") {
    const golden::File g("rmsprop.txt");
    nn::Parameter<float> p{test::to_tensor(g["p0"]), Tensor<float>({3, 4})};
    optim::RMSprop optimizer(std::vector<nn::Parameter<float>*>{&p});
    optimizer.options().centered = true;
    five_steps(optimizer, p, g);
    CHECK_CLOSE(p.value, g["centered.step5"]);
    optim::RMSprop late(std::vector<nn::Parameter<float>*>{&p});
    late.step();
    late.options().centered = true;
    const std::vector<float> before(p.value.data(), p.value.data() + p.value.numel());
    CHECK_THROWS_WITH(late.step(), Catch::Contains("RMSprop: centered was turned on after the first step"));
    CHECK(late.step_count() == 1);
    CHECK(std::equal(before.begin(), before.end(), p.value.data()));  // the failed step changed nothing
  }
  SECTION("AdamW") {
    const golden::File g("adamw.txt");
    nn::Parameter<float> p{test::to_tensor(g["p0"]), Tensor<float>({3, 4})};
    optim::AdamW optimizer(std::vector<nn::Parameter<float>*>{&p}, {.lr = 0.01});
    optimizer.options().amsgrad = true;
    five_steps(optimizer, p, g);
    CHECK_CLOSE(p.value, g["amsgrad.step5"]);
    optim::AdamW late(std::vector<nn::Parameter<float>*>{&p});
    late.step();
    late.options().amsgrad = true;
    CHECK_THROWS_WITH(late.step(), Catch::Contains("AdamW: amsgrad was turned on after the first step"));
    CHECK(late.step_count() == 1);
  }
}

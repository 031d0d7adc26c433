#include <ember/ember.hpp>

#include <catch2/catch.hpp>

#include "helpers.hpp"

using namespace ember;

namespace {
// Five steps from p0 with the golden gradients g1..g5, compared with torch after steps 1 and 5.
template <class Optimizer, class Options>
void check_against_torch(const golden::File& g, const std::string& config, Options options) {
  INFO("config " << config);
  nn::Parameter<float> p{test::to_tensor(g["p0"]), Tensor<float>({3, 4})};
  Optimizer optimizer(std::vector<nn::Parameter<float>*>{&p}, options);
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

TEST_CASE("AdamW follows torch 1.13 optim.AdamW for every option", "[adamw][golden]") {
  const golden::File g("adamw.txt");  // computed with torch 1.13 optim.AdamW; options in the file's comments
  using A = optim::AdamW<float>;
  using O = optim::AdamWOptions;
  check_against_torch<A>(g, "default", O{});
  check_against_torch<A>(g, "lr", O{.lr = 0.1});
  check_against_torch<A>(g, "betas", O{.lr = 0.01, .betas = {0.8, 0.9}});
  check_against_torch<A>(g, "eps", O{.lr = 0.01, .eps = 1e-3});
  check_against_torch<A>(g, "weight_decay", O{.lr = 0.01, .weight_decay = 0.5});
  check_against_torch<A>(g, "no_decay", O{.lr = 0.01, .weight_decay = 0});
  check_against_torch<A>(g, "amsgrad", O{.lr = 0.01, .amsgrad = true});
  check_against_torch<A>(g, "all", O{.lr = 0.02, .betas = {0.85, 0.95}, .eps = 1e-6, .weight_decay = 0.3, .amsgrad = true});
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
  check_against_torch<R>(g, "default", O{});
  check_against_torch<R>(g, "lr", O{.lr = 0.1});
  check_against_torch<R>(g, "alpha", O{.alpha = 0.9});
  check_against_torch<R>(g, "eps", O{.eps = 1e-2});
  check_against_torch<R>(g, "weight_decay", O{.weight_decay = 0.1});
  check_against_torch<R>(g, "momentum", O{.momentum = 0.9});
  check_against_torch<R>(g, "centered", O{.centered = true});
  check_against_torch<R>(g, "all", O{.lr = 0.02, .alpha = 0.8, .eps = 1e-4, .weight_decay = 0.05, .momentum = 0.7, .centered = true});
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

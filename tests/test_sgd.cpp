#include <ember/ember.hpp>

#include <catch2/catch.hpp>

#include "helpers.hpp"

using namespace ember;

TEST_CASE("SGD follows torch 1.13 optim.SGD for every option", "[sgd][golden]") {
  const golden::File g("sgd.txt");  // computed with torch 1.13 optim.SGD; options in the file's comments
  using O = optim::SGDOptions;
  test::check_optimizer_against_torch<optim::SGD<float>>(g, "plain", O{.lr = 0.1});
  test::check_optimizer_against_torch<optim::SGD<float>>(g, "momentum", O{.lr = 0.1, .momentum = 0.9});
  test::check_optimizer_against_torch<optim::SGD<float>>(g, "dampening", O{.lr = 0.1, .momentum = 0.9, .dampening = 0.5});
  test::check_optimizer_against_torch<optim::SGD<float>>(g, "weight_decay", O{.lr = 0.1, .weight_decay = 0.01});
  test::check_optimizer_against_torch<optim::SGD<float>>(g, "nesterov", O{.lr = 0.1, .momentum = 0.9, .nesterov = true});
  test::check_optimizer_against_torch<optim::SGD<float>>(g, "all", O{.lr = 0.05, .momentum = 0.8, .weight_decay = 0.02, .nesterov = true});
}

TEST_CASE("SGD rejects bad options", "[sgd]") {
  nn::Parameter<float> p{Tensor<float>({2}), Tensor<float>({2})};
  std::vector<nn::Parameter<float>*> params{&p};
  CHECK_THROWS_WITH(optim::SGD<float>(params, {.lr = -1}), Catch::Contains("invalid learning rate -1"));
  CHECK_THROWS_WITH(optim::SGD<float>(params, {.momentum = -0.1}), Catch::Contains("invalid momentum"));
  CHECK_THROWS_WITH(optim::SGD<float>(params, {.weight_decay = -1}), Catch::Contains("invalid weight_decay"));
  CHECK_THROWS_WITH(optim::SGD<float>(params, {.nesterov = true}), Catch::Contains("nesterov"));
  CHECK_THROWS_WITH(optim::SGD<float>(params, {.momentum = 0.9, .dampening = 0.1, .nesterov = true}),
                    Catch::Contains("zero dampening"));
  CHECK_THROWS_WITH(optim::SGD<float>({}, {}), Catch::Contains("empty parameter list"));
}

TEST_CASE("SGD's momentum set through options() after a step starts its buffer then, as torch's", "[sgd][golden]") {
  // torch 1.13's SGD keeps momentum_buffer None while momentum is 0 and clones the gradient into it
  // (undampened) at the first step with momentum (checked with torch: group['momentum'] = 0.9 and
  // ['dampening'] = 0.5 after one step). ember's buffer is made lazily at that step too; the
  // expected values follow torch's rule in float.
  const golden::File g("sgd.txt");
  nn::Parameter<float> p{test::to_tensor(g["p0"]), Tensor<float>({3, 4})};
  optim::SGD optimizer(std::vector<nn::Parameter<float>*>{&p}, {.lr = 0.1});
  std::vector<float> want(p.value.data(), p.value.data() + 12), buffer(12);
  const float lr = 0.1f, momentum = 0.9f, keep = 1 - 0.5f;
  for (int k = 1; k <= 3; ++k) {
    p.grad = test::to_tensor(g["g" + std::to_string(k)]);
    if (k == 2) {
      optimizer.options().momentum = 0.9;
      optimizer.options().dampening = 0.5;
    }
    optimizer.step();
    for (std::size_t i = 0; i < 12; ++i) {
      const float grad = p.grad.data()[i];
      if (k == 1) {
        want[i] -= lr * grad;
        continue;
      }
      buffer[i] = k == 2 ? grad : momentum * buffer[i] + keep * grad;
      want[i] -= lr * buffer[i];
    }
    INFO("step " << k);
    REQUIRE(optimizer.momentum_buffers()[0].numel() == (k == 1 ? 0 : 12));
    for (std::size_t i = 0; i < 12; ++i) CHECK(p.value.data()[i] == Approx(want[i]).epsilon(1e-6));
  }
}

#include <ember/ember.hpp>

#include <catch2/catch.hpp>

#include "helpers.hpp"

using namespace ember;

namespace {
// Runs five steps from p0 with the golden gradients g1..g5 and compares with torch after
// steps 1 and 5.
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
  CHECK_CLOSE(p.value, g[config + ".step5"]);
}
}  // namespace

TEST_CASE("SGD follows torch 1.13 optim.SGD for every option", "[sgd][golden]") {
  const golden::File g("sgd.txt");  // computed with torch 1.13 optim.SGD; options in the file's comments
  using O = optim::SGDOptions;
  check_against_torch<optim::SGD<float>>(g, "plain", O{.lr = 0.1});
  check_against_torch<optim::SGD<float>>(g, "momentum", O{.lr = 0.1, .momentum = 0.9});
  check_against_torch<optim::SGD<float>>(g, "dampening", O{.lr = 0.1, .momentum = 0.9, .dampening = 0.5});
  check_against_torch<optim::SGD<float>>(g, "weight_decay", O{.lr = 0.1, .weight_decay = 0.01});
  check_against_torch<optim::SGD<float>>(g, "nesterov", O{.lr = 0.1, .momentum = 0.9, .nesterov = true});
  check_against_torch<optim::SGD<float>>(g, "all", O{.lr = 0.05, .momentum = 0.8, .weight_decay = 0.02, .nesterov = true});
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

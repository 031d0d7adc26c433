// The seed CNN as a user writes it: a struct holding its layers, forward and backward by hand.
#include <ember/ember.hpp>
#include <ember/nn/gradcheck.hpp>

#include <catch2/catch.hpp>

#include "helpers.hpp"
#include "models.hpp"

using namespace ember;

using test::SeedCnn;

TEST_CASE("the seed CNN has PyTorch's 27,210 parameters", "[cnn]") {
  SeedCnn<> model;
  CHECK(nn::num_parameters(model) == 27210);
}

TEST_CASE("five Adam steps of the seed CNN match torch 1.13", "[cnn][golden]") {
  const golden::File g("cnn_adam.txt");  // torch 1.13: the seed CNN, Adam(lr=1e-3), 5 steps on one batch of 4
  SeedCnn<> model;
  test::check_adam_steps_against_golden(model, g, 1e-3);
}

TEST_CASE("a whole small CNN passes the double-precision gradient check", "[cnn][gradcheck]") {
  manual_seed(9);
  // Conv(2->3, 3, padding 1) ReLU MaxPool(2) Flatten Linear(3*3*3 -> 4) on 7x7 inputs.
  nn::Sequential model{nn::Conv2d<double>{2, 3, 3, {.padding = 1}}, nn::ReLU<double>{}, nn::MaxPool2d<double>{2},
                       nn::Flatten<double>{}, nn::Linear<double>{27, 4}};
  model.set_needs_input_grad(true);
  Generator gen(10);
  Tensor<double> x({2, 2, 7, 7});
  for (index_t i = 0; i < x.numel(); ++i) x.data()[i] = gen.normal();
  Tensor<std::int64_t> labels({2});
  labels(0) = 1;
  labels(1) = 3;
  nn::CrossEntropyLoss<double> criterion;
  const auto r = nn::gradcheck_loss(model, criterion, x, labels);
  INFO(r.report);
  CHECK(r.ok);
}

TEST_CASE("a CNN shape error names the layer that produced the bad input", "[cnn]") {
  // Linear(2704, 10) fed the output of a Conv2d(1, 12, 3) + pool: (64, 2028).
  nn::Sequential model{nn::Conv2d{1, 12, 3}, nn::MaxPool2d{2}, nn::Flatten{}, nn::Linear{2704, 10}};
  const Tensor<float> x({64, 1, 28, 28});
  CHECK_THROWS_WITH(model.forward(x), Catch::Contains("layer 3 forward: Linear(in_features=2704") &&
                                          Catch::Contains("got (64, 2028)") &&
                                          Catch::Contains("output of layer 2, Flatten"));
}

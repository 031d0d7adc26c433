#include <ember/ember.hpp>

#include <catch2/catch.hpp>

#include "helpers.hpp"

using namespace ember;

TEST_CASE("CrossEntropyLoss matches torch 1.13 nn.CrossEntropyLoss (mean)", "[loss][golden]") {
  const golden::File g("cross_entropy.txt");  // computed with torch 1.13 nn.CrossEntropyLoss()
  for (std::string prefix : {"", "large."}) {  // large.: logits ~ +-1000, a naive softmax overflows
    INFO("case " << prefix);
    nn::CrossEntropyLoss<float> criterion;
    const float loss = criterion.forward(test::to_tensor(g[prefix + "logits"]), test::to_labels(g[prefix + "labels"]));
    CHECK(loss == Approx(g[prefix + "loss"].values[0]).epsilon(1e-6));
    CHECK_CLOSE(criterion.backward(), g[prefix + "dlogits"]);
  }
}

TEST_CASE("CrossEntropyLoss gradient is (softmax - onehot) / N, checked by central differences", "[loss][gradcheck]") {
  Generator gen(9);
  Tensor<double> logits({4, 5});
  for (index_t i = 0; i < logits.numel(); ++i) logits.data()[i] = 3 * gen.normal();
  Tensor<std::int64_t> labels({4});
  for (index_t i = 0; i < 4; ++i) labels(i) = static_cast<std::int64_t>(gen.below(5));
  nn::CrossEntropyLoss<double> criterion;
  criterion.forward(logits, labels);
  const Tensor<double> analytic = criterion.backward();
  const double eps = 1e-6;
  for (index_t i = 0; i < logits.numel(); ++i) {
    const double saved = logits.data()[i];
    logits.data()[i] = saved + eps;
    const double plus = criterion.forward(logits, labels);
    logits.data()[i] = saved - eps;
    const double minus = criterion.forward(logits, labels);
    logits.data()[i] = saved;
    CHECK(analytic.data()[i] == Approx((plus - minus) / (2 * eps)).margin(1e-8));
  }
}

TEST_CASE("CrossEntropyLoss names a bad label and its position", "[loss]") {
  nn::CrossEntropyLoss<float> criterion;
  Tensor<float> logits({3, 10});
  Tensor<std::int64_t> labels({3});
  labels(1) = 10;
  CHECK_THROWS_WITH(criterion.forward(logits, labels),
                    Catch::Contains("label 10 at position 1 is out of range for 10 classes"));
  labels(1) = -1;
  CHECK_THROWS_WITH(criterion.forward(logits, labels), Catch::Contains("label -1 at position 1"));
  CHECK_THROWS_WITH(criterion.forward(logits, Tensor<std::int64_t>({4})), Catch::Contains("expected labels of shape (3,)"));
  CHECK_THROWS_WITH(criterion.forward(Tensor<float>({3, 10, 1}), labels), Catch::Contains("(N, C)"));
  CHECK_THROWS_WITH(nn::CrossEntropyLoss<float>().backward(), Catch::Contains("needs a forward()"));
}

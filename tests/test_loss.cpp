#include <ember/ember.hpp>

#include <catch2/catch.hpp>
#include <cmath>
#include <string>
#include <vector>

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

TEST_CASE("NLLLoss matches torch 1.13 nn.NLLLoss, with weights, ignore_index and reduction='sum'", "[loss][golden]") {
  const golden::File g("nll_loss.txt");  // computed with torch 1.13 nn.NLLLoss
  const std::vector<double> w(g["weight"].values.begin(), g["weight"].values.end());
  const auto log_probs = test::to_tensor(g["log_probs"]);
  struct Case {
    std::string prefix;
    nn::NLLLossOptions options;
    std::string labels;
  };
  const Case cases[] = {{"plain.", {}, "labels"},
                        {"weighted.", {.weight = w}, "labels"},
                        {"ignore.", {.weight = w, .ignore_index = 3}, "ignore.labels"},
                        {"sum.", {.weight = w, .ignore_index = 3, .reduction = nn::Reduction::sum}, "ignore.labels"}};
  for (const auto& c : cases) {
    INFO("case " << c.prefix);
    nn::NLLLoss<float> criterion(c.options);
    const float loss = criterion.forward(log_probs, test::to_labels(g[c.labels]));
    CHECK(loss == Approx(g[c.prefix + "loss"].values[0]).epsilon(1e-6));
    CHECK_CLOSE(criterion.backward(), g[c.prefix + "dlog_probs"]);
  }
}

TEST_CASE("LogSoftmax + NLLLoss give CrossEntropyLoss's loss and gradient", "[loss]") {
  const auto logits = test::random_tensor<double>({5, 7}, 3);
  Tensor<std::int64_t> labels({5});
  for (index_t i = 0; i < 5; ++i) labels(i) = (3 * i + 1) % 7;
  nn::LogSoftmax<double> log_softmax;
  nn::NLLLoss<double> nll;
  nn::CrossEntropyLoss<double> ce;
  CHECK(nll.forward(log_softmax.forward(logits), labels) == Approx(ce.forward(logits, labels)).epsilon(1e-14));
  const auto& dx = log_softmax.backward(nll.backward());
  CHECK((dx.array() - ce.backward().array()).abs().maxCoeff() < 1e-15);
}

TEST_CASE("NLLLoss checks its labels and weights", "[loss]") {
  nn::NLLLoss<float> criterion({.weight = {1.0, 2.0, 0.5}});
  Tensor<std::int64_t> labels({2});
  CHECK_THROWS_WITH(criterion.forward(Tensor<float>({2, 4}), labels),
                    Catch::Contains("NLLLoss: 3 class weights for an input of 4 classes"));
  labels(1) = 3;
  CHECK_THROWS_WITH(criterion.forward(Tensor<float>({2, 3}), labels),
                    Catch::Contains("NLLLoss: label 3 at position 1 is out of range for 3 classes"));
  labels(1) = -100;  // the default ignore_index: ignored, not an error
  CHECK_NOTHROW(criterion.forward(Tensor<float>({2, 3}), labels));
  CHECK_THROWS_WITH(nn::NLLLoss<float>().backward(), Catch::Contains("needs a forward()"));
}

TEST_CASE("CrossEntropyLoss matches torch 1.13 with weights, ignore_index and label smoothing", "[loss][golden]") {
  // computed with torch 1.13 nn.CrossEntropyLoss(weight=..., ignore_index=..., label_smoothing=...)
  const golden::File g("cross_entropy_options.txt");
  const std::vector<double> w(g["weight"].values.begin(), g["weight"].values.end());
  const auto logits = test::to_tensor(g["logits"]);
  struct Case {
    std::string name;
    nn::CrossEntropyLossOptions options;
    std::string labels;
    float scale = 1;
  };
  using nn::Reduction;
  const Case cases[] = {
      {"weight", {.weight = w}, "labels"},
      {"ignore_default", {}, "ignored"},
      {"smooth", {.label_smoothing = 0.2}, "labels"},
      {"smooth_ignore", {.ignore_index = 2, .label_smoothing = 0.3}, "clamped"},
      {"all", {.weight = w, .ignore_index = 2, .label_smoothing = 0.25}, "clamped"},
      {"all_sum", {.weight = w, .ignore_index = 2, .reduction = Reduction::sum, .label_smoothing = 0.25}, "clamped"},
      {"smooth_one", {.weight = w, .label_smoothing = 1.0}, "labels"},
      {"large", {.weight = w, .label_smoothing = 0.1}, "labels", 1000},
  };
  for (const auto& c : cases) {
    INFO("case " << c.name);
    nn::CrossEntropyLoss<float> criterion(c.options);
    Tensor<float> z = logits;
    z.array() *= c.scale;
    const float loss = criterion.forward(z, test::to_labels(g[c.labels]));
    CHECK(loss == Approx(g[c.name + ".loss"].values[0]).epsilon(1e-5));
    CHECK_CLOSE(criterion.backward(), g[c.name + ".dlogits"]);
  }
}

TEST_CASE("CrossEntropyLoss with options passes a central-difference gradient check", "[loss][gradcheck]") {
  const auto check = [](const nn::CrossEntropyLossOptions& options) {
    auto logits = test::random_tensor<double>({6, 4}, 11);
    logits.array() *= 2;
    Tensor<std::int64_t> labels({6});
    for (index_t i = 0; i < 6; ++i) labels(i) = i % 4;
    labels(2) = options.ignore_index;
    nn::CrossEntropyLoss<double> criterion(options);
    criterion.forward(logits, labels);
    const Tensor<double> analytic = criterion.backward();
    double worst = 0;
    for (index_t i = 0; i < logits.numel(); ++i) {
      const double saved = logits.data()[i], eps = 1e-6;
      logits.data()[i] = saved + eps;
      const double plus = criterion.forward(logits, labels);
      logits.data()[i] = saved - eps;
      const double minus = criterion.forward(logits, labels);
      logits.data()[i] = saved;
      worst = std::max(worst, std::abs(analytic.data()[i] - (plus - minus) / (2 * eps)));
    }
    return worst;
  };
  CHECK(check({.weight = {1.0, 2.0, 0.5, 3.0}, .ignore_index = 1, .label_smoothing = 0.3}) < 1e-8);
  CHECK(check({.ignore_index = 3, .label_smoothing = 0.1}) < 1e-8);
  CHECK(check({.weight = {1.0, 2.0, 0.5, 3.0}, .reduction = nn::Reduction::sum, .label_smoothing = 0.6}) < 1e-8);
}

TEST_CASE("CrossEntropyLoss refuses bad options", "[loss]") {
  CHECK_THROWS_WITH(nn::CrossEntropyLoss<float>({.label_smoothing = 1.5}),
                    Catch::Contains("label_smoothing must be between 0.0 and 1.0, got 1.5"));
  CHECK_THROWS_WITH(nn::CrossEntropyLoss<float>({.label_smoothing = -0.1}), Catch::Contains("label_smoothing"));
  nn::CrossEntropyLoss<float> criterion({.weight = {1.0, 2.0, 0.5}});
  Tensor<std::int64_t> labels({2});
  CHECK_THROWS_WITH(criterion.forward(Tensor<float>({2, 10}), labels),
                    Catch::Contains("CrossEntropyLoss: 3 class weights for an input of 10 classes"));
  nn::CrossEntropyLoss<float> ignore_one({.ignore_index = 1});
  labels(0) = -100;  // not ignore_index here: out of range
  CHECK_THROWS_WITH(ignore_one.forward(Tensor<float>({2, 3}), labels),
                    Catch::Contains("label -100 at position 0 is out of range for 3 classes (and is not ignore_index 1)"));
}

TEST_CASE("CrossEntropyLoss with every target ignored gives NaN and a zero gradient, as torch", "[loss]") {
  nn::CrossEntropyLoss<float> criterion;
  Tensor<std::int64_t> labels({2});
  labels.fill(-100);
  CHECK(std::isnan(criterion.forward(test::random_tensor<float>({2, 3}, 1), labels)));
  CHECK((criterion.backward().array() == 0).all());
}

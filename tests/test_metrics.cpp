#include <cmath>

#include <ember/ember.hpp>

#include <catch2/catch.hpp>

using namespace ember;

namespace {
// A "model" whose logits pick class (pixel value % 3): right for labels that match.
template <class T = float>
struct PixelModel {
  Tensor<T> logits;
  bool training = true;
  const Tensor<T>& forward(const Tensor<T>& x) {
    logits.resize({x.size(0), 3});
    for (index_t i = 0; i < x.size(0); ++i) logits(i, static_cast<index_t>(x(i, 0, 0, 0) * 255 + T(0.5)) % 3) = 1;
    return logits;
  }
  void train(bool on = true) { training = on; }
  void eval() { train(false); }
  bool is_training() const { return training; }
};
}  // namespace

TEST_CASE("accuracy counts argmax hits, in eval mode, and restores the mode", "[metrics]") {
  data::ImageDataset ds;
  ds.height = ds.width = 1;
  ds.pixels = {0, 1, 2, 3, 4};
  ds.labels = {0, 1, 2, 0, 0};  // predictions 0 1 2 0 1: four right
  PixelModel model;
  CHECK(metrics::accuracy(model, ds, 2) == Approx(0.8));
  PixelModel<double> model64;  // a user's own struct in double: forward takes Tensor<double>
  CHECK(metrics::accuracy(model64, ds, 2) == Approx(0.8));
  CHECK(model.is_training());
  const auto cm = metrics::confusion_matrix(model, ds, 3);
  CHECK(cm[0][0] == 2);
  CHECK(cm[0][1] == 1);
  CHECK(cm[1][1] == 1);
  CHECK(cm[2][2] == 1);
}

TEST_CASE("accuracy takes a double model and agrees with the same model in float", "[metrics]") {
  // Weights exact in both types: logit j = j * (pixel - 1/2), so class 2 wins for pixels above
  // 1/2 and class 0 below (no pixel k/255 is within rounding of 1/2).
  data::ImageDataset ds;
  ds.height = ds.width = 1;
  ds.pixels = {0, 10, 200, 250, 255, 30};
  ds.labels = {0, 0, 2, 2, 1, 2};  // right, right, right, right, wrong, wrong
  const auto run = [&](auto zero) {
    using T = decltype(zero);
    nn::Sequential model{nn::Flatten<T>{}, nn::Linear<T>(1, 3)};
    for (auto& [name, p] : model.named_parameters())
      for (index_t j = 0; j < 3; ++j) p.value.data()[j] = name.ends_with("weight") ? T(j) : T(-0.5 * j);
    return metrics::accuracy(model, ds, 4);
  };
  CHECK(run(0.0) == Approx(4.0 / 6.0));
  CHECK(run(0.0f) == run(0.0));
}

TEST_CASE("per_class_accuracy is each class's diagonal over its row, NaN for an empty class", "[metrics]") {
  // Counted by hand: class 0 has 3 samples, 2 right; class 1 has 1, 1 right; class 2 has 1, 1 right.
  data::ImageDataset ds;
  ds.height = ds.width = 1;
  ds.pixels = {0, 1, 2, 3, 4};
  ds.labels = {0, 1, 2, 0, 0};  // predictions 0 1 2 0 1
  PixelModel model;
  const auto acc = metrics::per_class_accuracy(model, ds, 3, 2);
  REQUIRE(acc.size() == 3);
  CHECK(acc[0] == Approx(2.0 / 3.0));
  CHECK(acc[1] == 1.0);
  CHECK(acc[2] == 1.0);
  CHECK(model.is_training());

  const std::vector<std::vector<index_t>> counts = {{5, 1, 0}, {0, 0, 0}, {2, 2, 4}};
  const auto from_counts = metrics::per_class_accuracy(counts);
  CHECK(from_counts[0] == Approx(5.0 / 6.0));
  CHECK(std::isnan(from_counts[1]));
  CHECK(from_counts[2] == Approx(0.5));
  CHECK_THROWS_AS(metrics::per_class_accuracy({{1, 2}, {3}}), Error);
}

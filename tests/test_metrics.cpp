#include <ember/ember.hpp>

#include <catch2/catch.hpp>

using namespace ember;

namespace {
// A "model" whose logits pick class (pixel value % 3): right for labels that match.
struct PixelModel {
  Tensor<float> logits;
  bool training = true;
  const Tensor<float>& forward(const Tensor<float>& x) {
    logits.resize({x.size(0), 3});
    for (index_t i = 0; i < x.size(0); ++i) logits(i, static_cast<index_t>(x(i, 0, 0, 0) * 255 + 0.5f) % 3) = 1;
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
  CHECK(model.is_training());
  const auto cm = metrics::confusion_matrix(model, ds, 3);
  CHECK(cm[0][0] == 2);
  CHECK(cm[0][1] == 1);
  CHECK(cm[1][1] == 1);
  CHECK(cm[2][2] == 1);
}

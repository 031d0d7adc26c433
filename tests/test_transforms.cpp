// The loader's augmentation (data/transforms.hpp): the geometry of RandomAffine and RandomCrop for
// fixed parameters against torchvision 0.14, the ranges of the drawn parameters, and augmented
// epochs that repeat from a seed and from a checkpointed generator state.
#include <ember/ember.hpp>

#include <catch2/catch.hpp>
#include <cmath>
#include <set>
#include <vector>

#include "helpers.hpp"

using namespace ember;

namespace {

std::vector<std::uint8_t> bytes(const golden::Tensor& t) {
  std::vector<std::uint8_t> b;
  for (double v : t.values) b.push_back(static_cast<std::uint8_t>(v));
  return b;
}

data::ImageSize size_of(const golden::Tensor& t) { return {t.shape[0], t.shape[1], t.shape[2]}; }

// n random 1x12x10 images with labels.
data::ImageDataset random_dataset(index_t n) {
  data::ImageDataset ds;
  ds.name = "random";
  ds.height = 12;
  ds.width = 10;
  Generator g(3);
  for (index_t i = 0; i < n * 120; ++i) ds.pixels.push_back(static_cast<std::uint8_t>(g.below(256)));
  for (index_t i = 0; i < n; ++i) ds.labels.push_back(static_cast<std::uint8_t>(i % 10));
  return ds;
}

std::vector<Tensor<float>> epoch(data::DataLoader<float>& loader) {
  std::vector<Tensor<float>> batches;
  for (const auto& [images, labels] : loader) batches.push_back(images);
  return batches;
}

bool same(const std::vector<Tensor<float>>& a, const std::vector<Tensor<float>>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (a[i].shape() != b[i].shape() || !(a[i].array() == b[i].array()).all()) return false;
  return true;
}

}  // namespace

TEST_CASE("RandomAffine's warp equals torchvision 0.14 F.affine (nearest, fill 0) for fixed parameters",
          "[transforms][golden]") {
  const golden::File g("transforms.txt");  // computed with torchvision 0.14 F.affine
  for (int k = 0; k < 9; ++k) {
    const std::string p = "affine" + std::to_string(k) + ".";
    const auto& params = g[p + "params"].values;
    INFO(p << " angle " << params[0] << " translate (" << params[1] << ", " << params[2] << ") scale " << params[3]);
    const auto image = bytes(g[p + "image"]), expected = bytes(g[p + "out"]);
    std::vector<std::uint8_t> out(image.size(), 7);
    data::RandomAffine::apply(image.data(), out.data(), size_of(g[p + "image"]),
                              {.angle = params[0], .tx = static_cast<index_t>(params[1]),
                               .ty = static_cast<index_t>(params[2]), .scale = params[3]});
    CHECK(out == expected);
  }
}

TEST_CASE("RandomCrop's crop equals torchvision 0.14 F.crop(F.pad(img, padding)) for fixed offsets",
          "[transforms][golden]") {
  const golden::File g("transforms.txt");  // computed with torchvision 0.14 F.pad and F.crop
  for (int k = 0; k < 6; ++k) {
    const std::string p = "crop" + std::to_string(k) + ".";
    const auto& params = g[p + "params"].values;  // padding, top, left, height, width
    INFO(p);
    const auto image = bytes(g[p + "image"]), expected = bytes(g[p + "out"]);
    const data::RandomCrop crop({static_cast<index_t>(params[3]), static_cast<index_t>(params[4])},
                                static_cast<index_t>(params[0]));
    const auto in = size_of(g[p + "image"]);
    const auto os = crop.output_size(in);
    REQUIRE(os.c * os.h * os.w == static_cast<index_t>(expected.size()));
    std::vector<std::uint8_t> out(expected.size(), 7);
    crop.apply(image.data(), out.data(), in, {.top = static_cast<index_t>(params[1]), .left = static_cast<index_t>(params[2])});
    CHECK(out == expected);
  }
}

TEST_CASE("RandomAffine and RandomCrop draw their parameters from torchvision's ranges", "[transforms][random]") {
  const data::RandomAffine affine(15, {.translate = {0.1, 0.2}, .scale = {0.8, 1.1}});
  const data::ImageSize s{1, 28, 30};  // max |tx| = 3, max |ty| = 5.6
  data::SampleGenerator g(11, 0);
  double lo = 1e9, hi = -1e9, slo = 1e9, shi = -1e9;
  std::set<index_t> txs, tys;
  for (int i = 0; i < 20000; ++i) {
    const auto p = affine.get_params(g, s);
    lo = std::min(lo, p.angle), hi = std::max(hi, p.angle);
    slo = std::min(slo, p.scale), shi = std::max(shi, p.scale);
    txs.insert(p.tx), tys.insert(p.ty);
  }
  CHECK(lo >= -15);
  CHECK(lo < -14.9);
  CHECK(hi <= 15);
  CHECK(hi > 14.9);
  CHECK(slo >= 0.8f);
  CHECK(slo < 0.81);
  CHECK(shi <= 1.1f);
  CHECK(shi > 1.09);
  CHECK(txs == std::set<index_t>{-3, -2, -1, 0, 1, 2, 3});             // round(U(-3, 3))
  CHECK(tys == std::set<index_t>{-6, -5, -4, -3, -2, -1, 0, 1, 2, 3, 4, 5, 6});  // round(U(-5.6, 5.6))

  const data::RandomCrop crop(28, 4);  // offsets in [0, 8]
  std::set<index_t> tops, lefts;
  for (int i = 0; i < 2000; ++i) {
    const auto p = crop.get_params(g, {1, 28, 28});
    tops.insert(p.top), lefts.insert(p.left);
  }
  CHECK(tops == std::set<index_t>{0, 1, 2, 3, 4, 5, 6, 7, 8});
  CHECK(lefts == tops);
  CHECK(data::RandomCrop(32).get_params(g, {1, 28, 28 + 4}).top >= 0);
  CHECK_THROWS_WITH(data::RandomCrop(30).output_size({1, 28, 28}),
                    Catch::Contains("RandomCrop") && Catch::Contains("larger than the padded image (28, 28)"));
  CHECK_THROWS_WITH(data::RandomAffine(-1), Catch::Contains("RandomAffine: degrees must be >= 0"));
  CHECK_THROWS_WITH(data::RandomAffine(5, {.scale = {1.2, 0.9}}), Catch::Contains("RandomAffine: scale"));
  CHECK_THROWS_WITH(data::RandomAffine(5, {.translate = {1.5, 0}}), Catch::Contains("RandomAffine: translate"));
}

TEST_CASE("The loader augments per sample before Normalize, the same from the same seed, new every epoch",
          "[transforms][dataloader]") {
  auto ds = random_dataset(50);
  ds.normalize = {{0.5}, {0.25}};
  ds.transforms = {data::RandomCrop(10, 2), data::RandomAffine(20, {.translate = {0.1, 0.1}, .scale = {0.9, 1.1}})};
  data::DataLoader a(ds, {.batch_size = 16, .shuffle = true, .seed = 5});
  data::DataLoader b(ds, {.batch_size = 16, .shuffle = true, .seed = 5});
  const auto a1 = epoch(a), a2 = epoch(a), b1 = epoch(b);
  REQUIRE(a1.size() == 4);
  CHECK(a1[0].shape() == Shape{16, 1, 10, 10});  // RandomCrop(10) of 12x10 padded by 2
  CHECK(same(a1, b1));                           // same seed, same augmented batches
  CHECK(!same(a1, a2));                          // a new epoch draws new parameters

  // Each image is its sample's bytes through the transforms, then (x / 255 - 0.5) / 0.25: redo
  // sample 0 of the epoch by hand with the parameters its generator draws.
  data::DataLoader c(ds, {.batch_size = 16, .shuffle = true, .seed = 9});
  auto it = c.begin();
  const auto& batch = *it;
  const index_t s0 = c.order()[0];
  Generator probe(9);  // the loader's generator: the shuffle's draws, then the epoch seed
  for (std::size_t i = 49; i > 0; --i) probe.below(i + 1);
  data::SampleGenerator g(probe.next_u64(), 0);
  const auto& crop = std::get<data::RandomCrop>(ds.transforms[0]);
  const auto& affine = std::get<data::RandomAffine>(ds.transforms[1]);
  std::vector<std::uint8_t> cropped(100), warped(100);
  crop(g, ds.pixels.data() + s0 * 120, cropped.data(), {1, 12, 10});
  affine(g, cropped.data(), warped.data(), {1, 10, 10});
  bool all = true;
  for (index_t j = 0; j < 100; ++j)
    all = all && batch.images.data()[j] == (static_cast<float>(warped[j]) / 255.0f - 0.5f) / 0.25f;
  CHECK(all);

  // Random access: batch 2 alone, then batch 1, as in order.
  data::DataLoader d(ds, {.batch_size = 16, .shuffle = true, .seed = 5});
  d.begin();
  const Tensor<float> d2 = d.load(2).images;
  const Tensor<float> d1 = d.load(1).images;
  CHECK((d2.array() == a1[2].array()).all());
  CHECK((d1.array() == a1[1].array()).all());
}

TEST_CASE("An augmented loader resumed from its order and generator state continues identically",
          "[transforms][dataloader][checkpoint]") {
  auto ds = random_dataset(40);
  ds.transforms = {data::RandomAffine(30, {.scale = {0.8, 1.2}})};
  data::DataLoader straight(ds, {.batch_size = 8, .shuffle = true, .seed = 3});
  epoch(straight);
  const std::string state = straight.generator().state();  // what save_checkpoint writes after epoch 1
  const auto order = straight.order();
  const auto second = epoch(straight), third = epoch(straight);

  data::DataLoader resumed(ds, {.batch_size = 8, .shuffle = true, .seed = 77});
  resumed.generator().set_state(state);  // what load_checkpoint restores
  resumed.set_order(order);
  CHECK(same(epoch(resumed), second));
  CHECK(same(epoch(resumed), third));
}

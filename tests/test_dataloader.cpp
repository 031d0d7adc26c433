#include <ember/ember.hpp>

#include <catch2/catch.hpp>
#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "golden.hpp"
#include "helpers.hpp"

using namespace ember;

namespace {
// n samples of 1x2x2 whose pixels all equal the sample's index (mod 256) and label = index % 10.
data::ImageDataset make_dataset(index_t n) {
  data::ImageDataset ds;
  ds.name = "toy";
  ds.height = ds.width = 2;
  for (index_t i = 0; i < n; ++i) {
    for (int k = 0; k < 4; ++k) ds.pixels.push_back(static_cast<std::uint8_t>(i % 256));
    ds.labels.push_back(static_cast<std::uint8_t>(i % 10));
  }
  return ds;
}

// The sample indices of one epoch, read back from the pixels.
std::vector<index_t> epoch_order(data::DataLoader<float>& loader) {
  std::vector<index_t> seen;
  for (const auto& [images, labels] : loader)
    for (index_t i = 0; i < images.size(0); ++i) {
      const index_t s = static_cast<index_t>(images(i, 0, 0, 0) * 255.0f + 0.5f);
      REQUIRE(labels(i) == s % 10);
      seen.push_back(s);
    }
  return seen;
}
}  // namespace

TEST_CASE("DataLoader keeps the last partial batch by default, as PyTorch (938 batches of 60,000 at 64)", "[dataloader]") {
  const auto ds = make_dataset(200);
  data::DataLoader loader(ds, {.batch_size = 64});
  CHECK(loader.size() == 4);
  std::vector<index_t> sizes;
  for (const auto& [images, labels] : loader) {
    sizes.push_back(images.size(0));
    CHECK(images.shape() == Shape{images.size(0), 1, 2, 2});
    CHECK(labels.shape() == Shape{images.size(0)});
  }
  CHECK(sizes == std::vector<index_t>{64, 64, 64, 8});
  data::DataLoader dropping(ds, {.batch_size = 64, .drop_last = true});
  CHECK(dropping.size() == 3);
  CHECK(epoch_order(dropping).size() == 192);

  data::ImageDataset mnist_sized;  // 1x1 images: the loader checks that the pixels fit the labels
  mnist_sized.height = mnist_sized.width = 1;
  mnist_sized.labels.resize(60000);
  mnist_sized.pixels.resize(60000);
  CHECK(data::DataLoader(mnist_sized, {.batch_size = 64}).size() == 938);
}

TEST_CASE("DataLoader scales pixels to [0, 1] as ToTensor() does", "[dataloader]") {
  data::ImageDataset ds;
  ds.height = 1;
  ds.width = 3;
  ds.pixels = {0, 128, 255};
  ds.labels = {4};
  data::DataLoader loader(ds, {.batch_size = 1});
  const auto& batch = *loader.begin();
  CHECK(batch.images(0, 0, 0, 0) == 0.0f);
  CHECK(batch.images(0, 0, 0, 1) == 128.0f / 255.0f);  // torch: uint8 -> float, then div(255)
  CHECK(batch.images(0, 0, 0, 2) == 1.0f);
  CHECK(batch.labels(0) == 4);
}

TEST_CASE("without shuffle the order is the dataset's", "[dataloader]") {
  const auto ds = make_dataset(10);
  data::DataLoader loader(ds, {.batch_size = 3});
  CHECK(epoch_order(loader) == std::vector<index_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
}

TEST_CASE("shuffle sees every sample once per epoch, differs per epoch, and is reproducible", "[dataloader]") {
  const auto ds = make_dataset(250);
  data::DataLoader a(ds, {.batch_size = 16, .shuffle = true, .seed = 7});
  data::DataLoader b(ds, {.batch_size = 16, .shuffle = true, .seed = 7});
  data::DataLoader c(ds, {.batch_size = 16, .shuffle = true, .seed = 8});
  const auto a1 = epoch_order(a), a2 = epoch_order(a);
  CHECK(std::set<index_t>(a1.begin(), a1.end()).size() == 250);
  CHECK(std::set<index_t>(a2.begin(), a2.end()).size() == 250);
  CHECK(a1 != a2);
  std::vector<index_t> identity(250);
  std::iota(identity.begin(), identity.end(), 0);
  CHECK(a1 != identity);
  CHECK(epoch_order(b) == a1);  // same seed, same epochs
  CHECK(epoch_order(b) == a2);
  CHECK(epoch_order(c) != a1);
}

TEST_CASE("shards: each rank's samples are torch's DistributedSampler's without shuffling, padding included",
          "[dataloader][distributed]") {
  golden::File f("sampler.txt");  // computed with torch 1.13 DistributedSampler
  const std::pair<index_t, int> cases[] = {{10, 3}, {7, 4}, {2, 5}, {8, 2}, {60, 1}};
  for (const auto& [n, w] : cases) {
    const auto ds = make_dataset(n);
    for (int r = 0; r < w; ++r) {
      INFO("n " << n << ", world_size " << w << ", rank " << r);
      data::DataLoader loader(ds, {.batch_size = 3, .rank = r, .world_size = w});
      const auto& expected = f[ember::detail::concat("n", n, "_w", w, "_r", r)].values;
      CHECK(loader.samples() == static_cast<index_t>(expected.size()));
      CHECK(epoch_order(loader) == std::vector<index_t>(expected.begin(), expected.end()));
    }
  }
}

TEST_CASE("shards: 2 ranks x batch 32 see, step by step, the samples of 1 rank x batch 64, every epoch, augmented "
          "alike", "[dataloader][distributed]") {
  auto ds = make_dataset(250);
  for (const bool augmented : {false, true}) {
    INFO((augmented ? "with RandomCrop(2, padding 1)" : "without transforms"));
    ds.transforms.clear();
    if (augmented) ds.transforms.push_back(data::RandomCrop(2, 1));
    data::DataLoader one(ds, {.batch_size = 64, .shuffle = true, .seed = 5});
    data::DataLoader r0(ds, {.batch_size = 32, .shuffle = true, .seed = 5, .rank = 0, .world_size = 2});
    data::DataLoader r1(ds, {.batch_size = 32, .shuffle = true, .seed = 5, .rank = 1, .world_size = 2});
    REQUIRE(one.size() == r0.size());
    std::vector<std::vector<float>> first_epoch;
    for (int epoch = 0; epoch < 2; ++epoch) {
      auto a = r0.begin(), b = r1.begin();
      std::vector<std::vector<float>> epoch_images;
      for (const auto& batch : one) {
        // The images (which carry their sample's index and its crop) of step k, as sorted lists.
        const auto rows = [](const Tensor<float>& images, std::vector<std::vector<float>>& out) {
          for (index_t i = 0; i < images.size(0); ++i)
            out.emplace_back(images.data() + i * 4, images.data() + (i + 1) * 4);
        };
        std::vector<std::vector<float>> expected, got;
        rows(batch.images, expected);
        rows((*a).images, got);
        rows((*b).images, got);
        std::sort(expected.begin(), expected.end());
        std::sort(got.begin(), got.end());
        CHECK(got == expected);
        epoch_images.insert(epoch_images.end(), expected.begin(), expected.end());
        ++a, ++b;
      }
      if (epoch == 0) first_epoch = epoch_images;
      else CHECK(epoch_images != first_epoch);  // a new permutation each epoch
    }
  }
}

TEST_CASE("shards: a mid-epoch state counts batches over all ranks, so a resume may change the world size",
          "[dataloader][distributed]") {
  const auto ds = make_dataset(250);
  data::DataLoader r1(ds, {.batch_size = 32, .rank = 1, .world_size = 2});
  for (auto it = r1.begin(); it != r1.end(); ++it) {
    (void)*it;
    const auto state = r1.epoch_state();
    CHECK(state.batch_size == 64);
    data::DataLoader one(ds, {.batch_size = 64});
    data::DataLoader four(ds, {.batch_size = 16, .rank = 3, .world_size = 4});
    data::DataLoader other(ds, {.batch_size = 32});
    CHECK(one.epoch_state_problem(state).empty());
    CHECK(four.epoch_state_problem(state).empty());
    CHECK_THAT(other.epoch_state_problem(state), Catch::Contains("saved mid-way with batch_size 64, this loader's is 32"));
    break;
  }
  CHECK_THROWS_WITH(data::DataLoader(ds, {.rank = 2, .world_size = 2}),
                    Catch::Contains("rank 2 of world_size 2 is out of range (0 <= rank < world_size)"));
  CHECK_THROWS_WITH(data::DataLoader(ds, {.world_size = 0}), Catch::Contains("rank 0 of world_size 0 is out of range"));
}

TEST_CASE("DataLoader rejects bad options", "[dataloader]") {
  const auto ds = make_dataset(3);
  CHECK_THROWS_WITH(data::DataLoader(ds, {.batch_size = 0}), Catch::Contains("batch_size must be positive, got 0"));
  CHECK_THROWS_WITH(data::DataLoader(data::ImageDataset{.name = "nothing"}), Catch::Contains("'nothing' is empty"));
}

TEST_CASE("Normalize gives torchvision's ToTensor() + Normalize() values bit for bit, per channel", "[dataloader]") {
  const golden::File g("normalize.txt");  // computed with torchvision 0.14 on torch 1.13
  const auto check_case = [&](const std::string& prefix, std::vector<double> mean, std::vector<double> std) {
    const auto& pixels = g[prefix + "pixels"];  // (C, H, W)
    data::ImageDataset ds;
    ds.name = prefix;
    ds.channels = pixels.shape[0];
    ds.height = pixels.shape[1];
    ds.width = pixels.shape[2];
    for (double v : pixels.values) ds.pixels.push_back(static_cast<std::uint8_t>(v));
    ds.labels = {0};
    ds.normalize = {mean, std};
    data::DataLoader loader(ds, {.batch_size = 1});
    const auto& images = (*loader.begin()).images;
    const auto x = images.reshape({ds.channels, ds.height, ds.width});
    CHECK(test::mismatch(x, g[prefix + "x"], {.rtol = 0, .atol = 0}).empty());
  };
  check_case("mnist.", {0.1307}, {0.3081});
  check_case("rgb.", {0.4914, 0.4822, 0.4465}, {0.2470, 0.2435, 0.2616});

  SECTION("one mean and std serve every channel") {
    data::ImageDataset ds;
    ds.name = "rgb";
    ds.channels = 3;
    ds.height = ds.width = 1;
    ds.pixels = {51, 51, 51};
    ds.labels = {0};
    ds.normalize = {{0.5}, {0.25}};
    data::DataLoader loader(ds, {.batch_size = 1});
    const auto& images = (*loader.begin()).images;
    for (index_t c = 0; c < 3; ++c) CHECK(images(0, c, 0, 0) == (51.0f / 255.0f - 0.5f) / 0.25f);
  }
}

TEST_CASE("Normalize set after the loader was made applies from the next epoch; bad values are named", "[dataloader]") {
  auto ds = make_dataset(4);
  data::DataLoader loader(ds, {.batch_size = 4});
  CHECK((*loader.begin()).images(1, 0, 0, 0) == 1.0f / 255.0f);
  ds.normalize = {{0.5}, {2.0}};
  CHECK((*loader.begin()).images(1, 0, 0, 0) == (1.0f / 255.0f - 0.5f) / 2.0f);

  ds.normalize = {{0.5, 0.5}, {1.0, 1.0}};  // two values for one channel
  CHECK_THROWS_WITH(loader.begin(), Catch::Contains("toy") && Catch::Contains("2 mean(s) and 2 std(s)") &&
                                        Catch::Contains("one per channel (1)"));
  ds.normalize = {{0.5}, {}};
  CHECK_THROWS_WITH(data::DataLoader(ds, {.batch_size = 4}), Catch::Contains("1 mean(s) and 0 std(s)"));
  ds.normalize = {{0.5}, {0.0}};
  CHECK_THROWS_WITH(data::DataLoader(ds, {.batch_size = 4}), Catch::Contains("std[0] = 0"));
}

TEST_CASE("metrics::accuracy sees the dataset's Normalize, as the training loop does", "[dataloader][metrics]") {
  // A Linear(1, 2) whose logits are (0, x): class 1 wins exactly when the loader's x is above 0.
  data::ImageDataset ds;
  ds.name = "one pixel";
  ds.height = ds.width = 1;
  ds.pixels = {10, 200};
  ds.labels = {0, 1};  // right only if 200 maps above 0 and 10 below: needs Normalize
  nn::Sequential model{nn::Flatten{}, nn::Linear{1, 2}};
  for (auto& [name, p] : model.named_parameters()) {
    p.value.fill(0);
    if (name.ends_with("weight")) p.value(1, 0) = 1;
  }
  CHECK(metrics::accuracy(model, ds) == 0.5);  // [0, 1]: both above 0, both class 1
  ds.normalize = {{0.5}, {0.5}};
  CHECK(metrics::accuracy(model, ds) == 1.0);
}

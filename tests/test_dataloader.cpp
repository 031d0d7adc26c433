#include <ember/ember.hpp>

#include <catch2/catch.hpp>
#include <set>

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

  data::ImageDataset mnist_sized;
  mnist_sized.labels.resize(60000);
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

TEST_CASE("DataLoader rejects bad options", "[dataloader]") {
  const auto ds = make_dataset(3);
  CHECK_THROWS_WITH(data::DataLoader(ds, {.batch_size = 0}), Catch::Contains("batch_size must be positive, got 0"));
  CHECK_THROWS_WITH(data::DataLoader(data::ImageDataset{.name = "nothing"}), Catch::Contains("'nothing' is empty"));
}

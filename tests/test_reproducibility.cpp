// A fixed seed and thread count give bit-identical weights from run to run.
#include <ember/ember.hpp>

#include <catch2/catch.hpp>
#include <cstring>

#include "models.hpp"

using namespace ember;

namespace {
template <class MakeModel>
std::vector<Tensor<float>> train_and_collect(MakeModel make, const data::ImageDataset& ds) {
  manual_seed(3);
  auto model = make();
  data::DataLoader loader(ds, {.batch_size = 64, .shuffle = true, .seed = 5});
  optim::Adam optimizer(model.parameters(), {.lr = 1e-3});
  test::train_steps(model, optimizer, loader, 6);
  std::vector<Tensor<float>> weights;
  for (auto& [name, p] : model.named_parameters()) weights.push_back(p.value);
  return weights;
}

bool bit_identical(const std::vector<Tensor<float>>& a, const std::vector<Tensor<float>>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (!(a[i].shape() == b[i].shape()) || std::memcmp(a[i].data(), b[i].data(), a[i].numel() * sizeof(float)) != 0)
      return false;
  return true;
}
}  // namespace

TEST_CASE("training is bit-for-bit reproducible for a fixed seed and thread count", "[reproducibility]") {
  const auto ds = test::fake_mnist(400);
  for (int threads : {1, 2}) {
    INFO(threads << " threads");
    set_num_threads(threads);
    const auto mlp1 = train_and_collect([] { return test::make_seed_mlp(); }, ds);
    const auto mlp2 = train_and_collect([] { return test::make_seed_mlp(); }, ds);
    CHECK(bit_identical(mlp1, mlp2));
    const auto cnn1 = train_and_collect([] { return test::SeedCnn<>{}; }, ds);
    const auto cnn2 = train_and_collect([] { return test::SeedCnn<>{}; }, ds);
    CHECK(bit_identical(cnn1, cnn2));
    const auto lenet1 = train_and_collect([] { return test::make_lenet(); }, ds);
    CHECK(bit_identical(lenet1, train_and_collect([] { return test::make_lenet(); }, ds)));
    // and the check can fail: another seed trains other weights
    manual_seed(4);
    CHECK_FALSE(bit_identical(mlp1, train_and_collect([] { return test::make_seed_mlp(); }, test::fake_mnist(400, 1))));
  }
  set_num_threads(2);
}

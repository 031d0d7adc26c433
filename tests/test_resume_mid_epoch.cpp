// Checkpoints saved in the middle of an epoch: DataLoader::epoch_state, and runs with augmentation
// and OneCycleLR resumed bit for bit (tests/resume_augmented.sh does it in a fresh process).
#include <ember/ember.hpp>
#include <ember/io.hpp>

#include <catch2/catch.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "files.hpp"
#include "models.hpp"

using namespace ember;
using test::read_bytes;
using test::toy_dataset;
using test::toy_model;
using test::weights_of;
using test::write_bytes;

namespace {
// The toy data through RandomCrop (padding 1) and RandomAffine, then Normalize.
data::ImageDataset augmented_toy_dataset() {
  auto ds = toy_dataset();
  ds.transforms = {data::RandomCrop(3, 1), data::RandomAffine(30, {.scale = {0.8, 1.2}})};
  ds.normalize = {{0.5}, {0.25}};
  return ds;
}

// Trains from `step` until `until`, the schedule stepped per batch, calling after_step(step) after
// each step inside the loop; the loop over the loader is left by a `break` right after the step
// that reaches `until`, mid-epoch or not.
template <class Model, class Optimizer, class Schedule>
std::int64_t train_until(Model& model, Optimizer& optimizer, Schedule& schedule, data::DataLoader<float>& loader,
                         std::int64_t step, std::int64_t until,
                         const std::function<void(std::int64_t)>& after_step = {}) {
  nn::CrossEntropyLoss criterion;
  while (step < until) {
    for (const auto& [images, labels] : loader) {
      criterion.forward(model.forward(images), labels);
      optimizer.zero_grad();
      model.backward(criterion.backward());
      optimizer.step();
      schedule.step();
      ++step;
      if (after_step) after_step(step);
      if (step == until) break;
    }
  }
  return step;
}
}  // namespace

TEST_CASE("DataLoader's epoch state: set_epoch_state goes on with an interrupted epoch", "[dataloader][checkpoint]") {
  auto ds = toy_dataset(20);
  ds.transforms = {data::RandomAffine(30)};
  data::DataLoader loader(ds, {.batch_size = 8, .shuffle = true, .seed = 3});  // 3 batches: 8, 8, 4
  CHECK(loader.epoch_state().next_batch == -1);
  for (const auto& batch : loader) {
    (void)batch;
    CHECK(loader.epoch_state().next_batch == 1);
    break;
  }
  CHECK(loader.epoch_state().next_batch == -1);  // the loop left: the next begin() starts a new epoch
  auto it = loader.begin();
  CHECK(loader.epoch_state().next_batch == 0);
  REQUIRE(loader.epoch_state().augmentation_seed.has_value());
  (void)*it;
  ++it;
  (void)*it;  // batch 1 loaded: the epoch goes on with batch 2
  const auto state = loader.epoch_state();
  CHECK(state.next_batch == 2);
  CHECK(state.batch_size == 8);
  const auto order = loader.order();
  const auto generator = loader.generator().state();
  ++it;
  const Tensor<float> last = (*it).images;
  CHECK(loader.epoch_state().next_batch == -1);  // the last batch loaded: the epoch is over
  it = loader.end();
  const Tensor<float> next_epoch = (*loader.begin()).images;

  data::DataLoader resumed(ds, {.batch_size = 8, .shuffle = true, .seed = 77});
  (void)*resumed.begin();  // an epoch of its own under way
  resumed.set_order(order);
  resumed.generator().set_state(generator);
  resumed.set_epoch_state(state);
  auto r = resumed.begin();
  CHECK(r != resumed.end());
  CHECK(((*r).images.array() == last.array()).all());  // same samples, same augmentation
  ++r;
  CHECK(r == resumed.end());
  CHECK(((*resumed.begin()).images.array() == next_epoch.array()).all());  // then a new epoch as before

  CHECK_THROWS_WITH(resumed.set_epoch_state({3, 8, state.augmentation_seed}),
                    Catch::Contains("batch 3, out of range (3 batches)"));
  CHECK_THROWS_WITH(resumed.set_epoch_state({1, 4, state.augmentation_seed}),
                    Catch::Contains("batch_size 4, this loader's is 8"));
  CHECK_THROWS_WITH(resumed.set_epoch_state({1, 8, std::nullopt}),
                    Catch::Contains("without augmentation") && Catch::Contains("has transforms"));
  CHECK_NOTHROW(resumed.set_epoch_state({-1, 4, std::nullopt}));  // no epoch under way: nothing to match
}

TEST_CASE("a run with augmentation and OneCycleLR checkpointed mid-epoch resumes bit for bit",
          "[io][checkpoint][lr_scheduler][transforms]") {
  // 50 samples at batch 8: 7 batches an epoch, 21 steps in 3. Checkpointed after step 10 (batch
  // 3 of the second epoch goes on), 7 (an epoch's end) and 1, inside the loop over the loader
  // (the run goes on with that loop) or after leaving it by a `break` (the run's next loop
  // starts a new epoch); resumed in a model, optimizer, schedule and loader that trained 3 steps
  // of their own from other seeds.
  const std::int64_t stop = GENERATE(10, 7, 1);
  const bool adam = GENERATE(false, true);
  const bool inside = GENERATE(true, false);
  INFO("checkpoint after step " << stop << (inside ? " inside the loop" : " after a break")
                                 << (adam ? ", Adam" : ", SGD"));
  test::TempDir dir;
  const auto path = dir.file("run.ckpt");
  const auto ds = augmented_toy_dataset();
  const auto make_model = [] {
    return nn::Sequential{nn::Flatten{}, nn::Linear{9, 8}, nn::ReLU{}, nn::Dropout{0.3}, nn::Linear{8, 3}};
  };
  const auto make_optimizer = [&](auto& m) -> std::unique_ptr<optim::Optimizer<float>> {
    if (adam) return std::make_unique<optim::Adam<float>>(m.parameters(), optim::AdamOptions{.lr = 1e-2});
    return std::make_unique<optim::SGD<float>>(m.parameters(), optim::SGDOptions{.lr = 0.05, .momentum = 0.9});
  };
  manual_seed(1);
  auto model = make_model();
  auto optimizer = make_optimizer(model);
  optim::OneCycleLR schedule(*optimizer, 0.2, 21);
  data::DataLoader loader(ds, {.batch_size = 8, .shuffle = true, .seed = 3});
  data::DataLoader<float>::EpochState saved_epoch;
  const auto save = [&](std::int64_t step) {
    io::save_checkpoint(model, *optimizer, schedule, loader, step, path);
    saved_epoch = loader.epoch_state();
  };
  if (inside) {
    train_until(model, *optimizer, schedule, loader, 0, 21, [&](std::int64_t step) {
      if (step == stop) save(step);
    });
  } else {
    train_until(model, *optimizer, schedule, loader, 0, stop);
    save(stop);
    train_until(model, *optimizer, schedule, loader, stop, 21);
  }
  CHECK(saved_epoch.next_batch == (stop == 7 || !inside ? -1 : stop % 7));

  manual_seed(2);
  auto resumed = make_model();
  auto resumed_optimizer = make_optimizer(resumed);
  optim::OneCycleLR resumed_schedule(*resumed_optimizer, 0.2, 21);
  data::DataLoader resumed_loader(ds, {.batch_size = 8, .shuffle = true, .seed = 99});
  train_until(resumed, *resumed_optimizer, resumed_schedule, resumed_loader, 0, 3);
  CHECK(io::load_checkpoint(resumed, *resumed_optimizer, resumed_schedule, resumed_loader, path) == stop);
  CHECK(resumed_loader.epoch_state().next_batch == saved_epoch.next_batch);
  CHECK(resumed_loader.epoch_state().augmentation_seed == saved_epoch.augmentation_seed);
  train_until(resumed, *resumed_optimizer, resumed_schedule, resumed_loader, stop, 21);
  CHECK(weights_of(resumed) == weights_of(model));
  CHECK(resumed_schedule.get_last_lr() == schedule.get_last_lr());
  CHECK(resumed_optimizer->momentum() == optimizer->momentum());
  CHECK(resumed_loader.order() == loader.order());
  CHECK(resumed_loader.generator().state() == loader.generator().state());
  // The optimizer's state and the Dropout generator, through the files: the same bytes.
  io::save_checkpoint(model, *optimizer, schedule, loader, 21, dir.file("a"));
  io::save_checkpoint(resumed, *resumed_optimizer, resumed_schedule, resumed_loader, 21, dir.file("b"));
  CHECK(read_bytes(dir.file("a")) == read_bytes(dir.file("b")));
}

TEST_CASE("a mid-epoch checkpoint is refused by a loader that cannot go on with its epoch; older formats resume at "
          "the next epoch", "[io][checkpoint][transforms]") {
  test::TempDir dir;
  const auto path = dir.file("run.ckpt");
  const auto ds = augmented_toy_dataset();
  manual_seed(1);
  auto model = toy_model();
  optim::SGD sgd(model.parameters(), {.lr = 0.05, .momentum = 0.9});
  optim::StepLR schedule(sgd, 5);
  data::DataLoader loader(ds, {.batch_size = 8, .shuffle = true, .seed = 3});
  train_until(model, sgd, schedule, loader, 0, 14, [&](std::int64_t step) {
    if (step == 10) io::save_checkpoint(model, sgd, loader, 10, path);  // the second epoch goes on with batch 3
    if (step == 14) io::save_checkpoint(model, sgd, loader, 14, dir.file("end"));  // an epoch's end
  });

  auto target = toy_model();
  optim::SGD target_sgd(target.parameters(), {.lr = 0.05, .momentum = 0.9});
  data::DataLoader other_batch(ds, {.batch_size = 5, .shuffle = true});
  const auto order = other_batch.order();
  CHECK_THROWS_WITH(io::load_checkpoint(target, target_sgd, other_batch, path),
                    Catch::Contains("the loader cannot go on with the checkpoint's epoch: the epoch was saved mid-way "
                                    "with batch_size 8, this loader's is 5"));
  CHECK(other_batch.order() == order);
  CHECK(other_batch.epoch_state().next_batch == -1);
  CHECK(io::load_checkpoint(target, target_sgd, other_batch, dir.file("end")) == 14);  // between epochs: any batch size

  const auto plain = toy_dataset();  // the same samples without transforms
  data::DataLoader unaugmented(plain, {.batch_size = 8, .shuffle = true});
  CHECK_THROWS_WITH(io::load_checkpoint(target, target_sgd, unaugmented, path),
                    Catch::Contains("the epoch was saved mid-way with augmentation, the dataset 'toy' has no transforms"));

  // Format 2 had no epoch state: such a file still loads, and the next begin() starts a new epoch.
  auto bytes = read_bytes(path);
  const auto at = bytes.find("\"ember.checkpoint\":\"3\"");
  REQUIRE(at != std::string::npos);
  bytes[at + 20] = '2';
  write_bytes(dir.file("v2"), bytes);
  data::DataLoader same(ds, {.batch_size = 8, .shuffle = true});
  CHECK(io::load_checkpoint(target, target_sgd, same, dir.file("v2")) == 10);
  CHECK(same.epoch_state().next_batch == -1);
  CHECK(io::load_checkpoint(target, target_sgd, same, path) == 10);
  CHECK(same.epoch_state().next_batch == 3);
}

#include <ember/ember.hpp>
#include <ember/io.hpp>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <algorithm>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <type_traits>
#include <variant>
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

template <class Model, class Optimizer>
std::int64_t train_epochs(Model& model, Optimizer& optimizer, data::DataLoader<float>& loader, int epochs,
                          std::int64_t step) {
  nn::CrossEntropyLoss criterion;
  for (int e = 0; e < epochs; ++e)
    for (const auto& [images, labels] : loader) {
      criterion.forward(model.forward(images), labels);
      optimizer.zero_grad();
      model.backward(criterion.backward());
      optimizer.step();
      ++step;
    }
  return step;
}


// Runs 2 epochs, checkpoints, runs 2 more; then resumes a fresh model, optimizer and loader from
// the checkpoint and runs the same 2: the weights must be the same bits.
template <class MakeModel, class MakeOptimizer>
void check_resume_with(MakeModel toy_model, MakeOptimizer make_optimizer) {
  test::TempDir dir;
  const auto path = dir.file("run.ckpt");
  const auto ds = toy_dataset();
  manual_seed(1);
  auto model = toy_model();
  auto optimizer = make_optimizer(model);
  data::DataLoader loader(ds, {.batch_size = 8, .shuffle = true, .seed = 3});
  std::int64_t step = train_epochs(model, optimizer, loader, 2, 0);
  io::save_checkpoint(model, optimizer, loader, step, path);
  train_epochs(model, optimizer, loader, 2, step);

  manual_seed(2);  // other weights, other optimizer state, other loader state until loaded
  for (int i = 0; i < 5; ++i) default_generator().next_u64();  // and a disturbed generator
  auto resumed = toy_model();
  auto resumed_optimizer = make_optimizer(resumed);
  data::DataLoader resumed_loader(ds, {.batch_size = 8, .shuffle = true, .seed = 99});
  train_epochs(resumed, resumed_optimizer, resumed_loader, 1, 0);
  const std::int64_t loaded_step = io::load_checkpoint(resumed, resumed_optimizer, resumed_loader, path);
  CHECK(loaded_step == 14);  // 2 epochs of 7 batches
  train_epochs(resumed, resumed_optimizer, resumed_loader, 2, loaded_step);
  CHECK(weights_of(resumed) == weights_of(model));
  // Buffers too (BatchNorm's running statistics and count).
  const auto a = model.state_dict(), b = resumed.state_dict();
  REQUIRE(a.size() == b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    INFO(a[i].name);
    std::visit([&](const auto& t) {
      using T = std::remove_cvref_t<decltype(t)>;
      const auto& u = std::get<T>(b[i].tensor);
      CHECK(std::equal(t.data(), t.data() + t.numel(), u.data()));
    }, a[i].tensor);
  }
}

template <class MakeOptimizer>
void check_resume(MakeOptimizer make_optimizer) {
  check_resume_with([] { return toy_model(); }, make_optimizer);
}

}  // namespace

TEST_CASE("a model with BatchNorm and Dropout resumed from a checkpoint continues bit for bit", "[io][checkpoint]") {
  // The checkpoint holds the running statistics, num_batches_tracked and Dropout's generator;
  // the resumed model is built after the default generator was disturbed.
  const auto make = [] {
    return nn::Sequential{nn::Conv2d{1, 4, 3, {.padding = 1}}, nn::BatchNorm2d{4}, nn::ReLU{}, nn::Dropout{0.3},
                          nn::Flatten{},                      nn::Linear{36, 3}};
  };
  check_resume_with(make, [](auto& m) { return optim::Adam(m.parameters(), {.lr = 1e-2}); });
  check_resume_with(make, [](auto& m) { return optim::SGD(m.parameters(), {.lr = 0.05, .momentum = 0.9}); });
}

TEST_CASE("a run resumed from a checkpoint continues bit for bit (Adam, AMSGrad, SGD with momentum)", "[io][checkpoint]") {
  SECTION("Adam with weight decay") {
    check_resume([](auto& m) { return optim::Adam(m.parameters(), {.lr = 1e-2, .weight_decay = 1e-3}); });
  }
  SECTION("Adam with amsgrad") {
    check_resume([](auto& m) { return optim::Adam(m.parameters(), {.lr = 1e-2, .amsgrad = true}); });
  }
  SECTION("SGD with nesterov momentum") {
    check_resume([](auto& m) { return optim::SGD(m.parameters(), {.lr = 0.05, .momentum = 0.9, .nesterov = true}); });
  }
  SECTION("SGD without momentum") {
    check_resume([](auto& m) { return optim::SGD(m.parameters(), {.lr = 0.05}); });
  }
}

TEST_CASE("load_checkpoint restores the optimizer's options and step count, as torch's load_state_dict", "[io][checkpoint]") {
  test::TempDir dir;
  const auto ds = toy_dataset();
  manual_seed(1);
  auto model = toy_model();
  optim::Adam adam(model.parameters(), {.lr = 0.0123, .betas = {0.8, 0.99}, .eps = 1e-7, .weight_decay = 0.1});
  data::DataLoader loader(ds, {.batch_size = 8, .shuffle = true});
  const auto step = train_epochs(model, adam, loader, 1, 0);
  io::save_checkpoint(model, adam, loader, step, dir.file("c"));
  optim::Adam other(model.parameters());
  CHECK(io::load_checkpoint(model, other, loader, dir.file("c")) == 7);
  CHECK(other.options().lr == 0.0123);
  CHECK(other.options().betas == std::pair<double, double>{0.8, 0.99});
  CHECK(other.options().eps == 1e-7);
  CHECK(other.options().weight_decay == 0.1);
  CHECK(other.step_count() == 7);
}

TEST_CASE("load_checkpoint names every problem and changes nothing when the file does not fit", "[io][checkpoint]") {
  test::TempDir dir;
  const auto path = dir.file("run.ckpt");
  const auto ds = toy_dataset();
  manual_seed(1);
  auto model = toy_model();
  optim::Adam adam(model.parameters(), {.lr = 1e-2});
  data::DataLoader loader(ds, {.batch_size = 8, .shuffle = true});
  const auto step = train_epochs(model, adam, loader, 1, 0);
  io::save_checkpoint(model, adam, loader, step, path);

  manual_seed(2);
  auto target = toy_model();
  optim::Adam target_adam(target.parameters());
  data::DataLoader target_loader(ds, {.batch_size = 8, .shuffle = true, .seed = 5});
  train_epochs(target, target_adam, target_loader, 1, 0);  // state of its own, to be kept
  const auto weights = weights_of(target);
  const auto order = target_loader.order();
  const auto generator = target_loader.generator().state();
  const auto exp_avg = target_adam.exp_avg()[0];
  const auto unchanged = [&] {
    CHECK(weights_of(target) == weights);
    CHECK(target_loader.order() == order);
    CHECK(target_loader.generator().state() == generator);
    CHECK(target_adam.step_count() == 7);
    CHECK(target_adam.options().lr == 1e-3);
    CHECK(std::equal(exp_avg.data(), exp_avg.data() + exp_avg.numel(), target_adam.exp_avg()[0].data()));
  };

  SECTION("weights alone are not a checkpoint, and a checkpoint is not weights alone") {
    io::save(model, dir.file("weights"));
    CHECK_THROWS_WITH(io::load_checkpoint(target, target_adam, target_loader, dir.file("weights")),
                      Catch::Contains("not a checkpoint") && Catch::Contains("io::load"));
    CHECK_THROWS_WITH(io::load(target, path), Catch::Contains("\"optimizer.1.weight.exp_avg\"") &&
                                                  Catch::Contains("is a checkpoint: io::load_checkpoint"));
  }
  SECTION("another optimizer") {
    optim::SGD sgd(target.parameters(), {.lr = 0.1});
    CHECK_THROWS_WITH(io::load_checkpoint(target, sgd, target_loader, path),
                      Catch::Contains("the checkpoint's optimizer is Adam, not SGD") && !Catch::Contains("problems"));
  }
  SECTION("amsgrad on one side only") {
    optim::Adam ams(target.parameters(), {.amsgrad = true});
    CHECK_THROWS_WITH(io::load_checkpoint(target, ams, target_loader, path),
                      Catch::Contains("amsgrad off, this one has it on") && !Catch::Contains("problems"));
  }
  SECTION("a loader over another dataset") {
    const auto small = toy_dataset(20);
    data::DataLoader other(small, {.batch_size = 8});
    CHECK_THROWS_WITH(io::load_checkpoint(target, target_adam, other, path),
                      Catch::Contains("\"loader.order\" is I64 (50,), expected I64 (20,)"));
  }
  SECTION("another model") {
    auto wide = nn::Sequential{nn::Flatten{}, nn::Linear{9, 16}, nn::ReLU{}, nn::Linear{16, 3}};
    optim::Adam wide_adam(wide.parameters());
    CHECK_THROWS_WITH(io::load_checkpoint(wide, wide_adam, target_loader, path),
                      Catch::Contains("problems") &&
                          Catch::Contains("\"1.weight\" has shape (8, 9) in the file, the model's is (16, 9)") &&
                          Catch::Contains("\"optimizer.3.weight.exp_avg_sq\" is F32 (3, 8), expected floating point (3, 16)"));
  }
  SECTION("a corrupted order and generator") {
    // Same-length edits inside the file: sample 0 twice in the order, a letter in the generator.
    auto bytes = read_bytes(path);
    std::uint64_t n = 0;
    std::memcpy(&n, bytes.data(), 8);
    const auto header = bytes.substr(8, n);
    const auto key = header.find("\"loader.order\"");
    const auto offsets = header.find("data_offsets\":[", key) + 15;
    const std::uint64_t begin = std::stoull(header.substr(offsets));
    std::memcpy(bytes.data() + 8 + n + begin + 8, bytes.data() + 8 + n + begin, 8);  // order[1] = order[0]
    const auto gen = bytes.find("\"ember.loader.generator\":\"") + 26;
    bytes[gen] = 'x';
    write_bytes(path, bytes);
    CHECK_THROWS_WITH(io::load_checkpoint(target, target_adam, target_loader, path),
                      Catch::Contains("\"loader.order\" is not a permutation: needs each sample index 0..49 once; got") &&
                          Catch::Contains("\"ember.loader.generator\": Generator: not an mt19937_64 state"));
  }
  unchanged();
}

TEST_CASE("DataLoader::set_order takes only a permutation of its samples", "[dataloader][checkpoint]") {
  const auto ds = toy_dataset(4);
  data::DataLoader loader(ds, {.batch_size = 2});
  loader.set_order({3, 2, 1, 0});
  CHECK((*loader.begin()).labels(0) == ds.labels[3]);
  CHECK_THROWS_WITH(loader.set_order({0, 1, 2}), Catch::Contains("3 indices") && Catch::Contains("4 samples"));
  CHECK_THROWS_WITH(loader.set_order({0, 1, 1, 2}), Catch::Contains("got 1 twice"));
  CHECK_THROWS_WITH(loader.set_order({0, 1, 2, 4}), Catch::Contains("got 4, out of range"));
  CHECK(loader.order() == std::vector<index_t>{3, 2, 1, 0});
}

TEST_CASE("an SGD checkpoint with momentum loads into an SGD made without it and resumes bit for bit", "[io][checkpoint]") {
  test::TempDir dir;
  const auto ds = toy_dataset();
  manual_seed(1);
  auto model = toy_model();
  optim::SGD sgd(model.parameters(), {.lr = 0.05, .momentum = 0.9});
  data::DataLoader loader(ds, {.batch_size = 8, .shuffle = true});
  const auto step = train_epochs(model, sgd, loader, 1, 0);
  io::save_checkpoint(model, sgd, loader, step, dir.file("c"));
  train_epochs(model, sgd, loader, 1, step);

  manual_seed(2);
  auto resumed = toy_model();
  optim::SGD plain(resumed.parameters(), {.lr = 1.0});  // no momentum, no buffers
  data::DataLoader resumed_loader(ds, {.batch_size = 8, .shuffle = true});
  CHECK(io::load_checkpoint(resumed, plain, resumed_loader, dir.file("c")) == 7);
  CHECK(plain.options().momentum == 0.9);
  train_epochs(resumed, plain, resumed_loader, 1, 7);
  CHECK(weights_of(resumed) == weights_of(model));
}

TEST_CASE("a checkpoint of a zero-element parameter with Adam loads back", "[io][checkpoint]") {
  test::TempDir dir;
  const auto ds = toy_dataset(4);
  nn::Parameter<float> empty{Tensor<float>({0}), Tensor<float>({0})};
  nn::Parameter<float> w{Tensor<float>({3}), Tensor<float>({3})};
  struct Model {
    nn::NamedParameters<float> list;
    nn::NamedParameters<float> named_parameters() { return list; }
  } model{{{"empty", empty}, {"w", w}}};
  optim::Adam adam(std::vector<nn::Parameter<float>*>{&empty, &w});
  w.grad.fill(1);
  adam.step();
  data::DataLoader loader(ds, {.batch_size = 2});
  io::save_checkpoint(model, adam, loader, 1, dir.file("c"));
  optim::Adam other(std::vector<nn::Parameter<float>*>{&empty, &w});
  CHECK(io::load_checkpoint(model, other, loader, dir.file("c")) == 1);
  CHECK(other.exp_avg()[1](0) == adam.exp_avg()[1](0));
}

TEST_CASE("a run resumed from a checkpoint continues bit for bit (AdamW, RMSprop, Adadelta)", "[io][checkpoint]") {
  // The checkpoint code knows no optimizer by name: visit_state carries each one's state.
  SECTION("AdamW with amsgrad") {
    check_resume([](auto& m) { return optim::AdamW(m.parameters(), {.lr = 1e-2, .weight_decay = 0.1, .amsgrad = true}); });
  }
  SECTION("RMSprop centered with momentum") {
    check_resume([](auto& m) {
      return optim::RMSprop(m.parameters(), {.lr = 1e-3, .weight_decay = 1e-3, .momentum = 0.9, .centered = true});
    });
  }
  SECTION("RMSprop plain") { check_resume([](auto& m) { return optim::RMSprop(m.parameters()); }); }
  SECTION("Adadelta") { check_resume([](auto& m) { return optim::Adadelta(m.parameters(), {.weight_decay = 1e-3}); }); }
}

TEST_CASE("load_checkpoint restores RMSprop's and Adadelta's options and refuses a centered mismatch", "[io][checkpoint]") {
  test::TempDir dir;
  const auto ds = toy_dataset();
  manual_seed(1);
  auto model = toy_model();
  data::DataLoader loader(ds, {.batch_size = 8, .shuffle = true});
  optim::RMSprop rmsprop(model.parameters(), {.lr = 0.003, .alpha = 0.9, .eps = 1e-6, .momentum = 0.5, .centered = true});
  const auto step = train_epochs(model, rmsprop, loader, 1, 0);
  io::save_checkpoint(model, rmsprop, loader, step, dir.file("r"));
  optim::RMSprop same(model.parameters(), {.centered = true});
  CHECK(io::load_checkpoint(model, same, loader, dir.file("r")) == 7);
  CHECK(same.options().lr == 0.003);
  CHECK(same.options().alpha == 0.9);
  CHECK(same.options().eps == 1e-6);
  CHECK(same.options().momentum == 0.5);
  CHECK(same.step_count() == 7);
  optim::RMSprop uncentered(model.parameters());
  CHECK_THROWS_WITH(io::load_checkpoint(model, uncentered, loader, dir.file("r")),
                    Catch::Contains("the checkpoint's optimizer has centered on, this one has it off"));
  optim::Adadelta adadelta(model.parameters());
  CHECK_THROWS_WITH(io::load_checkpoint(model, adadelta, loader, dir.file("r")),
                    Catch::Contains("the checkpoint's optimizer is RMSprop, not Adadelta"));
}

namespace {
// As train_epochs, with a schedule stepped after each optimizer step (per_batch) or epoch.
template <class Model, class Optimizer, class Schedule>
std::int64_t train_scheduled(Model& model, Optimizer& optimizer, Schedule& schedule, bool per_batch,
                             data::DataLoader<float>& loader, int epochs, std::int64_t step) {
  nn::CrossEntropyLoss criterion;
  for (int e = 0; e < epochs; ++e) {
    for (const auto& [images, labels] : loader) {
      criterion.forward(model.forward(images), labels);
      optimizer.zero_grad();
      model.backward(criterion.backward());
      nn::utils::clip_grad_norm_(model.parameters(), 0.5);
      optimizer.step();
      if (per_batch) schedule.step();
      ++step;
    }
    if (!per_batch) schedule.step();
  }
  return step;
}

// 2 epochs, a checkpoint with the schedule, 2 more; then a fresh model, optimizer, schedule and
// loader resumed from it run the same 2: weights, rate and momentum must be the same bits.
template <class MakeOptimizer, class MakeSchedule>
void check_resume_scheduled(MakeOptimizer make_optimizer, MakeSchedule make_schedule, bool per_batch) {
  test::TempDir dir;
  const auto path = dir.file("run.ckpt");
  const auto ds = toy_dataset();
  manual_seed(1);
  auto model = toy_model();
  auto optimizer = make_optimizer(model);
  auto schedule = make_schedule(optimizer);
  data::DataLoader loader(ds, {.batch_size = 8, .shuffle = true, .seed = 3});
  std::int64_t step = train_scheduled(model, optimizer, schedule, per_batch, loader, 2, 0);
  io::save_checkpoint(model, optimizer, schedule, loader, step, path);
  train_scheduled(model, optimizer, schedule, per_batch, loader, 2, step);

  manual_seed(2);
  auto resumed = toy_model();
  auto resumed_optimizer = make_optimizer(resumed);
  auto resumed_schedule = make_schedule(resumed_optimizer);
  data::DataLoader resumed_loader(ds, {.batch_size = 8, .shuffle = true, .seed = 99});
  train_scheduled(resumed, resumed_optimizer, resumed_schedule, per_batch, resumed_loader, 1, 0);
  const auto loaded = io::load_checkpoint(resumed, resumed_optimizer, resumed_schedule, resumed_loader, path);
  CHECK(loaded == 14);
  CHECK(resumed_schedule.last_epoch() == (per_batch ? 14 : 2));
  train_scheduled(resumed, resumed_optimizer, resumed_schedule, per_batch, resumed_loader, 2, loaded);
  CHECK(weights_of(resumed) == weights_of(model));
  CHECK(resumed_schedule.last_epoch() == schedule.last_epoch());
  CHECK(resumed_schedule.get_last_lr() == schedule.get_last_lr());
  CHECK(resumed_optimizer.lr() == optimizer.lr());
  if (optimizer.has_momentum()) CHECK(resumed_optimizer.momentum() == optimizer.momentum());
}
}  // namespace

TEST_CASE("a run with an LR schedule resumed from a checkpoint continues bit for bit", "[io][checkpoint][lr_scheduler]") {
  SECTION("OneCycleLR over SGD's momentum, per batch, clipped gradients") {
    check_resume_scheduled([](auto& m) { return optim::SGD(m.parameters(), {.lr = 0.05, .momentum = 0.9}); },
                           [](auto& o) { return optim::OneCycleLR(o, 0.2, 28); }, true);
  }
  SECTION("OneCycleLR over AdamW's beta1, three phases, linear") {
    check_resume_scheduled([](auto& m) { return optim::AdamW(m.parameters()); },
                           [](auto& o) {
                             return optim::OneCycleLR(o, 0.02, 28, {.anneal_strategy = optim::Anneal::linear, .three_phase = true});
                           },
                           true);
  }
  SECTION("StepLR over Adadelta, per epoch") {
    check_resume_scheduled([](auto& m) { return optim::Adadelta(m.parameters()); },
                           [](auto& o) { return optim::StepLR(o, 1, 0.7); }, false);
  }
  SECTION("CosineAnnealingLR over RMSprop, per batch") {
    check_resume_scheduled([](auto& m) { return optim::RMSprop(m.parameters(), {.lr = 1e-3}); },
                           [](auto& o) { return optim::CosineAnnealingLR(o, 10, 1e-5); }, true);
  }
}

TEST_CASE("load_checkpoint with a schedule names a missing or different one and changes nothing", "[io][checkpoint][lr_scheduler]") {
  test::TempDir dir;
  const auto ds = toy_dataset();
  manual_seed(1);
  auto model = toy_model();
  data::DataLoader loader(ds, {.batch_size = 8});
  optim::SGD sgd(model.parameters(), {.lr = 0.1, .momentum = 0.9});
  optim::StepLR step_lr(sgd, 2);
  const auto step = train_epochs(model, sgd, loader, 1, 0);
  step_lr.step();
  step_lr.step();
  io::save_checkpoint(model, sgd, loader, step, dir.file("plain"));
  io::save_checkpoint(model, sgd, step_lr, loader, step, dir.file("step"));

  optim::SGD other(model.parameters(), {.lr = 0.5, .momentum = 0.9});
  optim::CosineAnnealingLR cosine(other, 10);
  CHECK_THROWS_WITH(io::load_checkpoint(model, other, cosine, loader, dir.file("plain")),
                    Catch::Contains("the checkpoint has no schedule, this run has a CosineAnnealingLR"));
  CHECK_THROWS_WITH(io::load_checkpoint(model, other, cosine, loader, dir.file("step")),
                    Catch::Contains("the checkpoint's schedule is StepLR, not CosineAnnealingLR"));
  CHECK(other.lr() == 0.5);
  CHECK(cosine.last_epoch() == 0);
  optim::StepLR other_step(other, 5, 0.5);
  CHECK(io::load_checkpoint(model, other, other_step, loader, dir.file("step")) == 7);
  CHECK(other_step.last_epoch() == 2);
  CHECK(other_step.step_size() == 2);
  CHECK(other_step.gamma() == 0.1);
  CHECK(other_step.get_last_lr() == step_lr.get_last_lr());
  CHECK(other.lr() == sgd.lr());
  // An invalid schedule state (step_size 0, same length in the header) is refused, and the
  // optimizer's options staged with it are taken back.
  std::string bytes = read_bytes(dir.file("step"));
  const std::string good = "\"ember.schedule.step_size\":\"2\"";
  const auto at = bytes.find(good);
  REQUIRE(at != std::string::npos);
  bytes.replace(at, good.size(), "\"ember.schedule.step_size\":\"0\"");
  write_bytes(dir.file("bad"), bytes);
  optim::SGD third(model.parameters(), {.lr = 0.25, .momentum = 0.9});
  optim::StepLR third_step(third, 3);
  CHECK_THROWS_WITH(io::load_checkpoint(model, third, third_step, loader, dir.file("bad")),
                    Catch::Contains("the checkpoint's StepLR state is invalid: invalid step_size 0"));
  CHECK(third.lr() == 0.25);
  CHECK(third_step.step_size() == 3);
  CHECK(third_step.last_epoch() == 0);
  // A schedule of another optimizer is an error; the checkpoint's schedule is ignored without one.
  CHECK_THROWS_WITH(io::save_checkpoint(model, sgd, other_step, loader, step, dir.file("x")),
                    Catch::Contains("schedule is not the optimizer's"));
  CHECK(io::load_checkpoint(model, other, loader, dir.file("step")) == 7);
}

TEST_CASE("a checkpoint saved after OneCycleLR's last step (linear: a negative rate, as torch's) loads back",
          "[io][checkpoint][lr_scheduler]") {
  // torch 1.13 OneCycleLR(anneal_strategy='linear') extrapolates its last allowed step (epoch
  // total_steps) below min_lr: with max_lr 0.1 and total_steps 14 the rate is
  // 4e-07 - (0.1 - 4e-07) / (13 - 3.2) = -0.01020364081632652 in torch 1.13. The usual
  // "train, step the schedule after every batch, save" leaves that rate in the optimizer; torch's
  // load_state_dict restores it, and so must load_checkpoint.
  test::TempDir dir;
  const auto ds = toy_dataset();
  manual_seed(1);
  auto model = toy_model();
  data::DataLoader loader(ds, {.batch_size = 8});
  optim::SGD sgd(model.parameters(), {.lr = 0.1, .momentum = 0.9});
  optim::OneCycleLR schedule(sgd, 0.1, 14, {.anneal_strategy = optim::Anneal::linear});
  for (int k = 0; k < 14; ++k) schedule.step();
  REQUIRE(sgd.lr() < 0);
  io::save_checkpoint(model, sgd, schedule, loader, 14, dir.file("end"));
  optim::SGD resumed(model.parameters(), {.lr = 0.1, .momentum = 0.9});
  optim::OneCycleLR resumed_schedule(resumed, 0.1, 14, {.anneal_strategy = optim::Anneal::linear});
  CHECK(io::load_checkpoint(model, resumed, resumed_schedule, loader, dir.file("end")) == 14);
  CHECK(resumed.lr() == sgd.lr());
  CHECK(resumed_schedule.last_epoch() == 14);
  optim::SGD plain(model.parameters(), {.lr = 0.1, .momentum = 0.9});
  CHECK(io::load_checkpoint(model, plain, loader, dir.file("end")) == 14);
  CHECK(plain.lr() == sgd.lr());
}

namespace {

// Rewrites metadata `key` of a safetensors file to `value` (the header is re-dumped; the data,
// whose offsets count from the end of the header, is kept as it is).
void set_metadata(const std::string& path, const std::string& key, const std::string& value) {
  const std::string bytes = read_bytes(path);
  std::uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  auto header = nlohmann::json::parse(bytes.substr(8, n));
  REQUIRE(header["__metadata__"].contains(key));
  header["__metadata__"][key] = value;
  const std::string text = header.dump();
  std::string out(8, '\0');
  const std::uint64_t length = text.size();
  std::memcpy(out.data(), &length, 8);
  write_bytes(path, out + text + bytes.substr(8 + n));
}

}  // namespace

TEST_CASE("load_checkpoint refuses options and counts out of their range, and changes nothing", "[io][checkpoint]") {
  // Before: lr = inf, SGD dampening = nan and ember.step = -1 were accepted and trained into
  // inf/NaN weights or gave a negative step; an Adam step count near INT64_MAX overflowed at the
  // next step().
  test::TempDir dir;
  const auto ds = toy_dataset();
  manual_seed(1);
  auto model = toy_model();
  data::DataLoader loader(ds, {.batch_size = 8, .shuffle = true});
  optim::Adam adam(model.parameters(), {.lr = 1e-2});
  optim::SGD sgd(model.parameters(), {.lr = 1e-2, .momentum = 0.9});
  const auto step = train_epochs(model, adam, loader, 1, 0);
  train_epochs(model, sgd, loader, 1, 0);
  const auto weights = weights_of(model);
  struct Case {
    bool is_adam;
    std::string key, value, message;
  };
  const Case cases[] = {
      {true, "ember.optimizer.lr", "inf", "Adam state is invalid: invalid learning rate inf"},
      {true, "ember.optimizer.lr", "nan", "invalid learning rate nan"},
      // (A finite negative rate loads: OneCycleLR's linear last step leaves one, and torch restores it.)
      {true, "ember.optimizer.beta2", "1", "invalid beta2 1"},
      {true, "ember.optimizer.eps", "-1e-8", "invalid eps"},
      {true, "ember.optimizer.step", "9223372036854775806", "invalid step count 9223372036854775806"},
      {true, "ember.optimizer.step", "-1", "invalid step count -1"},
      {true, "ember.optimizer.step", "9223372036854775808", "\"ember.optimizer.step\" = \"9223372036854775808\" is not a number"},
      {true, "ember.step", "-1", "\"ember.step\" = -1 is not a step count"},
      {true, "ember.step", "9223372036854775807", "\"ember.step\" = 9223372036854775807 is not a step count"},
      {true, "ember.step", "7x", "is not a number"},
      {false, "ember.optimizer.dampening", "nan", "SGD state is invalid: invalid dampening nan"},
      {false, "ember.optimizer.lr", "inf", "invalid learning rate inf"},
      {false, "ember.optimizer.momentum", "-1", "invalid momentum -1"},
      {false, "ember.optimizer.weight_decay", "1e300", "invalid weight_decay 1e+300"},
      {false, "ember.optimizer.nesterov", "yes", "\"ember.optimizer.nesterov\" = \"yes\" is not true/false"},
  };
  for (const auto& c : cases) {
    INFO(c.key << " = " << c.value);
    const auto path = dir.file("c");
    optim::Optimizer<float>& opt = c.is_adam ? static_cast<optim::Optimizer<float>&>(adam) : sgd;
    io::save_checkpoint(model, opt, loader, step, path);
    io::load_checkpoint(model, opt, loader, path);  // the control: it loads as written
    set_metadata(path, c.key, c.value);
    const double lr = opt.lr();
    const auto adam_step = adam.step_count();
    CHECK_THROWS_WITH(io::load_checkpoint(model, opt, loader, path), Catch::Contains(c.message));
    CHECK(opt.lr() == lr);
    CHECK(adam.step_count() == adam_step);
    CHECK(sgd.options().dampening == 0);
    CHECK(weights_of(model) == weights);
  }
}

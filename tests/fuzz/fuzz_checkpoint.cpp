// libFuzzer target: io::load_checkpoint of the input into a small model (BatchNorm buffers,
// Dropout's generator), an optimizer and a data loader. A failed load must leave all three as
// they were, bit for bit; a successful one is followed by a training step.
//
// Input: byte 0 picks the optimizer (0: Adam, 1: Adam with amsgrad, 2: SGD with Nesterov
// momentum, modulo 3); the rest is the checkpoint file.
#include <cstdint>

#include <ember/data/dataloader.hpp>
#include <ember/io.hpp>
#include <ember/nn/batchnorm.hpp>
#include <ember/nn/dropout.hpp>
#include <ember/nn/flatten.hpp>
#include <ember/nn/linear.hpp>
#include <ember/nn/loss.hpp>
#include <ember/nn/relu.hpp>
#include <ember/nn/sequential.hpp>
#include <ember/optim/adam.hpp>
#include <ember/optim/sgd.hpp>

#include "fuzz.hpp"
#include "snapshot.hpp"

namespace {

using namespace ember;

auto make_model() {
  return nn::Sequential{nn::Flatten{}, nn::Linear{4, 3}, nn::BatchNorm1d{3}, nn::ReLU{}, nn::Dropout{0.5}, nn::Linear{3, 2}};
}

// 5 images of 1x2x2 with labels 0/1.
const data::ImageDataset& dataset() {
  static const data::ImageDataset ds = [] {
    data::ImageDataset d;
    d.name = "fuzz";
    d.height = d.width = 2;
    for (int i = 0; i < 20; ++i) d.pixels.push_back(static_cast<std::uint8_t>(i * 37));
    d.labels = {0, 1, 1, 0, 1};
    return d;
  }();
  return ds;
}

template <class Optimizer>
void load_into(Optimizer& optimizer, decltype(make_model())& model, const std::filesystem::path& path) {
  data::DataLoader<float> loader(dataset(), {.batch_size = 2, .shuffle = true, .seed = 3});
  const std::string model_before = fuzz::snapshot_model(model);
  const std::string optimizer_before = fuzz::snapshot_optimizer(optimizer);
  const std::string loader_before = fuzz::snapshot_loader(loader);
  std::int64_t step = 0;
  if (fuzz::try_load([&] { step = io::load_checkpoint(model, optimizer, loader, path); })) {
    if (step < 0) fuzz::fail("load_checkpoint returned a negative step");
    // What a user does next: train on.
    nn::CrossEntropyLoss criterion;
    for (const auto& [images, labels] : loader) {
      criterion.forward(model.forward(images), labels);
      optimizer.zero_grad();
      model.backward(criterion.backward());
      optimizer.step();
      break;
    }
    return;
  }
  if (fuzz::snapshot_model(model) != model_before) fuzz::fail("a failed io::load_checkpoint changed the model");
  if (fuzz::snapshot_optimizer(optimizer) != optimizer_before)
    fuzz::fail("a failed io::load_checkpoint changed the optimizer");
  if (fuzz::snapshot_loader(loader) != loader_before) fuzz::fail("a failed io::load_checkpoint changed the loader");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const auto path = fuzz::temp_dir() / "run.ckpt.safetensors";
  fuzz::write_file(path, data + 1, size - 1);
  manual_seed(5);
  auto model = make_model();
  switch (data[0] % 3) {
    case 0: {
      optim::Adam optimizer(model.parameters(), {.lr = 1e-2});
      load_into(optimizer, model, path);
      break;
    }
    case 1: {
      optim::Adam optimizer(model.parameters(), {.lr = 1e-2, .amsgrad = true});
      load_into(optimizer, model, path);
      break;
    }
    default: {
      optim::SGD optimizer(model.parameters(), {.lr = 0.05, .momentum = 0.9, .nesterov = true});
      load_into(optimizer, model, path);
    }
  }
  return 0;
}

#include <ember/ember.hpp>
#include <ember/io.hpp>

#include <catch2/catch.hpp>
#include <sstream>
#include <string>

#include "files.hpp"
#include "helpers.hpp"

using namespace ember;

namespace {

// One case of tests/golden/batchnorm.txt: train forward + backward, a second train forward,
// then eval, each against torch 1.13 (float32, the default tolerance of helpers.hpp).
template <class BN>
void check_case(BN& bn, const golden::File& g, const std::string& c) {
  INFO(c);
  if (bn.options().affine) {
    bn.weight().value = test::to_tensor(g[c + "weight"]);
    bn.bias().value = test::to_tensor(g[c + "bias"]);
  }
  bn.set_needs_input_grad(true);
  const auto x1 = test::to_tensor(g[c + "x1"]);
  CHECK_CLOSE(bn.forward(x1), g[c + "y1"]);
  CHECK_CLOSE(bn.backward(test::to_tensor(g[c + "dy"])), g[c + "dx"]);
  if (bn.options().affine) {
    CHECK_CLOSE(bn.weight().grad, g[c + "dweight"]);
    CHECK_CLOSE(bn.bias().grad, g[c + "dbias"]);
  }
  CHECK_CLOSE(bn.running_mean(), g[c + "running_mean1"]);
  CHECK_CLOSE(bn.running_var(), g[c + "running_var1"]);
  const auto x2 = test::to_tensor(g[c + "x2"]);
  CHECK_CLOSE(bn.forward(x2), g[c + "y2"]);
  CHECK_CLOSE(bn.running_mean(), g[c + "running_mean2"]);
  CHECK_CLOSE(bn.running_var(), g[c + "running_var2"]);
  CHECK(bn.num_batches_tracked().data()[0] == static_cast<std::int64_t>(g[c + "num_batches_tracked"].values[0]));
  bn.eval();
  const auto x3 = test::to_tensor(g[c + "x3"]);
  CHECK_CLOSE(bn.forward(x3), g[c + "y_eval"]);
}

}  // namespace

TEST_CASE("BatchNorm1d and BatchNorm2d match torch 1.13 in train, running statistics and eval", "[batchnorm][golden]") {
  const golden::File g("batchnorm.txt");  // computed with torch 1.13 nn.BatchNorm2d / nn.BatchNorm1d
  nn::BatchNorm2d<float> bn2d(3);
  check_case(bn2d, g, "bn2d.");
  nn::BatchNorm1d<float> bn1d(5, {.momentum = std::nullopt});
  check_case(bn1d, g, "bn1d.");
  nn::BatchNorm1d<float> bn1d3(2, {.eps = 1e-3, .momentum = 0.3});
  check_case(bn1d3, g, "bn1d3.");
  nn::BatchNorm2d<float> noaffine(2, {.affine = false});
  check_case(noaffine, g, "bn2d_noaffine.");
}

TEST_CASE("BatchNorm names its state as PyTorch, with num_batches_tracked an int64 0-d buffer", "[batchnorm]") {
  nn::Sequential model{nn::Conv2d{1, 4, 3}, nn::BatchNorm2d{4}};
  std::vector<std::string> names;
  for (const auto& e : model.state_dict()) names.push_back(e.name);
  CHECK(names == std::vector<std::string>{"0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean", "1.running_var",
                                          "1.num_batches_tracked"});
  const auto buffers = model.named_buffers();
  REQUIRE(buffers.size() == 3);
  CHECK(std::holds_alternative<Tensor<std::int64_t>*>(buffers[2].buffer));
  CHECK(std::get<Tensor<std::int64_t>*>(buffers[2].buffer)->dim() == 0);
  std::ostringstream out;
  out << model[1];
  CHECK(out.str() == "BatchNorm2d(4, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)");
  CHECK_THROWS_WITH(nn::BatchNorm2d<float>(0), Catch::Contains("num_features must be positive"));
  CHECK_THROWS_WITH(nn::BatchNorm1d<float>(3, {.momentum = 1.5}), Catch::Contains("momentum must be in [0, 1]"));
  nn::BatchNorm1d<float> bn(3);
  CHECK_THROWS_WITH(bn.forward(Tensor<float>({1, 3})), Catch::Contains("more than 1 value per channel"));
}

TEST_CASE("a BatchNorm CNN trained by PyTorch loads and gives PyTorch's logits", "[batchnorm][io][golden]") {
  // bn_cnn.safetensors and bn_cnn.txt: computed with torch 1.13 (tests/golden/make_golden.py case_bn_cnn)
  nn::Sequential model{nn::Conv2d{1, 4, 3}, nn::BatchNorm2d{4}, nn::ReLU{}, nn::MaxPool2d{2}, nn::Dropout{0.25},
                       nn::Flatten{}, nn::Linear{4 * 13 * 13, 10}};
  io::load(model, std::string(EMBER_GOLDEN_DIR) + "/bn_cnn.safetensors");
  auto& bn = model.at<nn::BatchNorm2d<float>>(1);
  CHECK(bn.num_batches_tracked().data()[0] == 5);
  model.eval();
  const golden::File g("bn_cnn.txt");
  const auto x = test::to_tensor(g["x"]);
  CHECK_CLOSE(model.forward(x), g["logits"]);
}

TEST_CASE("ember's BatchNorm file holds exactly what PyTorch's load_state_dict(strict=True) needs", "[batchnorm][io]") {
  // Saved by ember, read back as raw safetensors: the names, shapes and dtypes of PyTorch's
  // state_dict of the same model (the files of bn_cnn.safetensors, written by torch).
  nn::Sequential model{nn::Conv2d{1, 4, 3}, nn::BatchNorm2d{4}, nn::ReLU{}, nn::MaxPool2d{2}, nn::Dropout{0.25},
                       nn::Flatten{}, nn::Linear{4 * 13 * 13, 10}};
  test::TempDir dir;
  io::save(model, dir.file("ember.safetensors"));
  const auto ours = io::detail::read(dir.file("ember.safetensors"), "test");
  const auto torch = io::detail::read(std::string(EMBER_GOLDEN_DIR) + "/bn_cnn.safetensors", "test");
  REQUIRE(ours.entries.size() == torch.entries.size());
  for (const auto& [name, e] : torch.entries) {
    INFO(name);
    REQUIRE(ours.entries.count(name) == 1);
    CHECK(ours.entries.at(name).dtype == e.dtype);
    CHECK(ours.entries.at(name).shape == e.shape);
  }
  CHECK(ours.entries.at("1.num_batches_tracked").dtype == "I64");
}

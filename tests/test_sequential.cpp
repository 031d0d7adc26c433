#include <ember/ember.hpp>
#include <ember/nn/gradcheck.hpp>

#include <catch2/catch.hpp>
#include <sstream>

#include "helpers.hpp"

using namespace ember;

namespace {

// The MLP of tests/golden/mlp.txt: Flatten, Linear(12, 8), ReLU, Linear(8, 5).
template <class T = float>
auto make_mlp() {
  return nn::Sequential{nn::Flatten<T>{}, nn::Linear<T>{12, 8}, nn::ReLU<T>{}, nn::Linear<T>{8, 5}};
}

template <class Model>
void load_golden_weights(Model& model, const golden::File& g, const std::string& prefix = "") {
  for (auto& [name, p] : model.named_parameters()) p.value = test::to_tensor<typename Model::value_type>(g[prefix + name]);
}

}  // namespace

TEST_CASE("Sequential names parameters like a PyTorch state_dict and prints like its repr", "[sequential]") {
  auto model = make_mlp();
  std::vector<std::string> names;
  for (auto& [name, p] : model.named_parameters()) names.push_back(name);
  CHECK(names == std::vector<std::string>{"1.weight", "1.bias", "3.weight", "3.bias"});
  CHECK(model.parameters().size() == 4);
  CHECK(nn::num_parameters(model) == 12 * 8 + 8 + 8 * 5 + 5);
  std::ostringstream out;
  out << model;
  CHECK(out.str() ==
        "Sequential(\n  (0): Flatten(start_dim=1, end_dim=-1)\n"
        "  (1): Linear(in_features=12, out_features=8, bias=True)\n  (2): ReLU()\n"
        "  (3): Linear(in_features=8, out_features=5, bias=True)\n)");
}

TEST_CASE("an MLP's loss and gradients match torch 1.13", "[sequential][golden]") {
  const golden::File g("mlp.txt");  // computed with torch 1.13 nn.Sequential(Flatten, Linear(12,8), ReLU, Linear(8,5))
  auto model = make_mlp();
  load_golden_weights(model, g);
  nn::CrossEntropyLoss<float> criterion;
  const auto x = test::to_tensor(g["x"]);
  const auto& logits = model.forward(x);
  CHECK_CLOSE(logits, g["logits"]);
  CHECK(criterion.forward(logits, test::to_labels(g["labels"])) == Approx(g["loss"].values[0]).epsilon(1e-6));
  model.zero_grad();
  CHECK(model.backward(criterion.backward()).numel() == 0);  // the input needs no gradient by default
  for (auto& [name, p] : model.named_parameters()) {
    INFO(name);
    CHECK_CLOSE(p.grad, g["d" + name]);
  }
}

TEST_CASE("five Adam steps of an MLP match torch 1.13", "[sequential][adam][golden]") {
  const golden::File g("mlp_adam.txt");  // torch 1.13: Adam(lr=1e-2), 5 steps on one batch
  auto model = make_mlp();
  test::check_adam_steps_against_golden(model, g, 1e-2);
}

TEST_CASE("a whole MLP under CrossEntropyLoss passes the double-precision gradient check", "[sequential][gradcheck]") {
  manual_seed(11);
  auto model = make_mlp<double>();
  model.set_needs_input_grad(true);
  Generator gen(12);
  Tensor<double> x({3, 1, 3, 4});
  for (index_t i = 0; i < x.numel(); ++i) x.data()[i] = gen.normal();
  Tensor<std::int64_t> labels({3});
  for (index_t i = 0; i < 3; ++i) labels(i) = static_cast<std::int64_t>(gen.below(5));
  nn::CrossEntropyLoss<double> criterion;
  const auto r = nn::gradcheck_loss(model, criterion, x, labels);
  INFO(r.report);
  CHECK(r.ok);
  CHECK(r.checked == x.numel() + nn::num_parameters(model));
}

TEST_CASE("Sequential runs backward only down to the first layer with parameters", "[sequential]") {
  auto model = make_mlp();
  Tensor<float> x({2, 1, 3, 4}), dy({2, 5});
  model.forward(x);
  CHECK(model.backward(dy).numel() == 0);
  model.set_needs_input_grad(true);
  model.forward(x);
  CHECK(model.backward(dy).shape() == x.shape());
}

TEST_CASE("a shape error names the layer and the layer that produced its input", "[sequential]") {
  nn::Sequential model{nn::Flatten{}, nn::Linear{2704, 10}};
  const Tensor<float> x({64, 12, 13, 13});
  CHECK_THROWS_WITH(model.forward(x),
                    Catch::Contains("Sequential layer 1 forward") &&
                        Catch::Contains("expected input of shape (N, 2704), got (64, 2028)") &&
                        Catch::Contains("output of layer 0, Flatten(start_dim=1, end_dim=-1)"));
}

TEST_CASE("train() and eval() reach every layer", "[sequential]") {
  auto model = make_mlp();
  model.eval();
  CHECK_FALSE(model.is_training());
  CHECK_FALSE(model[1].is_training());
  const Tensor<float> x({1, 1, 3, 4});
  model.forward(x);
  CHECK_THROWS_WITH(model.backward(Tensor<float>({1, 5})), Catch::Contains("train mode"));
  model.train();
  CHECK(model[3].is_training());
}

// A user's own model struct, as the seeds' nn.Module subclasses.
#include <ember/ember.hpp>

#include <catch2/catch.hpp>

using namespace ember;

namespace {
struct Net {
  nn::Linear<> fc1{784, 128};
  nn::ReLU<> relu;
  nn::Linear<> fc2{128, 10};
  auto named_parameters() { return nn::named_parameters_of("fc1", fc1, "fc2", fc2); }
  auto parameters() { return nn::parameters_of(*this); }
};
}  // namespace

TEST_CASE("named_parameters_of names a user's struct like its state_dict", "[parameters]") {
  Net net;
  std::vector<std::string> names;
  for (auto& [name, p] : net.named_parameters()) names.push_back(name);
  CHECK(names == std::vector<std::string>{"fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"});
  const auto params = net.parameters();
  REQUIRE(params.size() == 4);
  CHECK(params[0] == &net.fc1.weight());
  CHECK(params[3] == &net.fc2.bias());
  CHECK(nn::num_parameters(net) == 101770);  // the seed MLP's count, as PyTorch prints it
}

TEST_CASE("zero_grad clears what backward accumulated", "[parameters]") {
  nn::Linear<float> l(2, 2);
  Tensor<float> x({1, 2}), dy({1, 2});
  x.fill(1);
  dy.fill(1);
  l.forward(x);
  l.backward(dy);
  CHECK(l.weight().grad.array().abs().sum() > 0);
  l.zero_grad();
  CHECK(l.weight().grad.array().abs().sum() == 0);
  CHECK(l.bias().grad.array().abs().sum() == 0);
}

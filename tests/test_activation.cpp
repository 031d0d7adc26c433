#include <ember/ember.hpp>
#include <ember/nn/gradcheck.hpp>

#include <catch2/catch.hpp>
#include <memory>
#include <sstream>
#include <string>

#include "helpers.hpp"

using namespace ember;

namespace {

struct Case {
  std::string prefix;
  std::unique_ptr<nn::Module<float>> layer;
  std::string repr;  // torch's
};

std::vector<Case> cases() {
  std::vector<Case> out;
  out.push_back({"sigmoid.", std::make_unique<nn::Sigmoid<float>>(), "Sigmoid()"});
  out.push_back({"tanh.", std::make_unique<nn::Tanh<float>>(), "Tanh()"});
  out.push_back({"leaky.", std::make_unique<nn::LeakyReLU<float>>(), "LeakyReLU(negative_slope=0.01)"});
  out.push_back({"leaky02.", std::make_unique<nn::LeakyReLU<float>>(0.2), "LeakyReLU(negative_slope=0.2)"});
  out.push_back({"leaky_neg.", std::make_unique<nn::LeakyReLU<float>>(-0.5), "LeakyReLU(negative_slope=-0.5)"});
  out.push_back({"gelu.", std::make_unique<nn::GELU<float>>(), "GELU(approximate='none')"});
  out.push_back({"gelu_tanh.", std::make_unique<nn::GELU<float>>("tanh"), "GELU(approximate='tanh')"});
  return out;
}

}  // namespace

TEST_CASE("the activations match torch 1.13, saturated inputs (sigmoid at -100, +-1e4) and x == 0 included",
          "[activation][golden]") {
  const golden::File g("activations.txt");  // computed with torch 1.13 nn.Sigmoid, nn.Tanh, nn.LeakyReLU, nn.GELU
  for (auto& c : cases()) {
    INFO("case " << c.prefix);
    std::ostringstream repr;
    repr << *c.layer;
    CHECK(repr.str() == c.repr);
    const auto x = test::to_tensor(g[c.prefix + "x"]);
    const auto& y = c.layer->forward(x);
    CHECK(y.array().isFinite().all());
    CHECK_CLOSE(y, g[c.prefix + "y"]);
    const auto& dx = c.layer->backward(test::to_tensor(g[c.prefix + "dy"]));
    CHECK(dx.array().isFinite().all());
    CHECK_CLOSE(dx, g[c.prefix + "dx"]);
  }
}

TEST_CASE("the activations pass the double-precision gradient check", "[activation][gradcheck]") {
  const auto x = test::random_tensor<double>({3, 4, 5}, 8);
  std::unique_ptr<nn::Module<double>> layers[] = {
      std::make_unique<nn::Sigmoid<double>>(), std::make_unique<nn::Tanh<double>>(),
      std::make_unique<nn::LeakyReLU<double>>(-0.3), std::make_unique<nn::GELU<double>>(),
      std::make_unique<nn::GELU<double>>("tanh")};
  for (auto& layer : layers) {
    INFO(*layer);
    const auto r = nn::gradcheck(*layer, x);
    INFO(r.report);
    CHECK(r.ok);
  }
}

TEST_CASE("GELU refuses an unknown approximation; LeakyReLU refuses an input changed before backward",
          "[activation]") {
  CHECK_THROWS_WITH(nn::GELU<float>("erf"), Catch::Contains("GELU: approximate must be 'none' or 'tanh', got 'erf'"));
  nn::LeakyReLU<float> leaky;
  Tensor<float> x({2, 3});
  leaky.forward(x);
  x.data()[0] = 1;
  CHECK_THROWS_WITH(leaky.backward(Tensor<float>({2, 3})), Catch::Contains("LeakyReLU(negative_slope=0.01)") &&
                                                                 Catch::Contains("modified"));
  nn::Sigmoid<float> sigmoid;
  sigmoid.forward(x);
  CHECK_THROWS_WITH(sigmoid.backward(Tensor<float>({3, 2})), Catch::Contains("Sigmoid(): expected dy of shape (2, 3)"));
}

#include <ember/ember.hpp>
#include <ember/nn/gradcheck.hpp>

#include <catch2/catch.hpp>
#include <memory>
#include <sstream>
#include <string>
#include <utility>

#include "helpers.hpp"

using namespace ember;

TEST_CASE("Softmax and LogSoftmax match torch 1.13 along any dim, at |x| ~ 1e4 too", "[softmax][golden]") {
  const golden::File g("softmax.txt");  // computed with torch 1.13 nn.Softmax(dim) / nn.LogSoftmax(dim)
  const std::pair<const char*, int> cases[] = {{"rows", 1}, {"nchw", 1}, {"last", -1}, {"first", 0}, {"large", 1}};
  for (const auto& [name, dim] : cases) {
    for (const std::string f : {"softmax", "log_softmax"}) {
      const std::string prefix = f + "." + name + ".";
      INFO("case " << prefix);
      std::unique_ptr<nn::Module<float>> layer;
      if (f == "softmax") layer = std::make_unique<nn::Softmax<float>>(dim);
      else layer = std::make_unique<nn::LogSoftmax<float>>(dim);
      const auto x = test::to_tensor(g[prefix + "x"]);
      const auto& y = layer->forward(x);
      CHECK(y.array().isFinite().all());
      // log_softmax at 1e4: y is x - (max + log sum), values ~1e4 exact to float's ulp there
      const test::Tolerance tol{.rtol = 1e-5, .atol = std::string(name) == "large" ? 2e-3 : 1e-6};
      CHECK_CLOSE(y, g[prefix + "y"], tol);
      CHECK_CLOSE(layer->backward(test::to_tensor(g[prefix + "dy"])), g[prefix + "dx"], tol);
    }
  }
}

TEST_CASE("Softmax and LogSoftmax pass the double gradient check along every dim", "[softmax][gradcheck]") {
  const auto x = test::random_tensor<double>({2, 3, 2, 3}, 4);
  for (int dim = -4; dim < 4; ++dim) {
    INFO("dim " << dim);
    nn::Softmax<double> softmax(dim);
    auto r = nn::gradcheck(softmax, x);
    INFO(r.report);
    CHECK(r.ok);
    nn::LogSoftmax<double> log_softmax(dim);
    r = nn::gradcheck(log_softmax, x);
    INFO(r.report);
    CHECK(r.ok);
  }
}

TEST_CASE("Softmax prints as torch and refuses a dim out of range", "[softmax]") {
  std::ostringstream out;
  out << nn::Softmax<float>() << " " << nn::LogSoftmax<float>(-1);
  CHECK(out.str() == "Softmax(dim=1) LogSoftmax(dim=-1)");
  nn::LogSoftmax<float> layer(2);
  CHECK_THROWS_WITH(layer.forward(Tensor<float>({3, 4})),
                    Catch::Contains("LogSoftmax(dim=2): dim 2 is out of range for input (3, 4)"));
  nn::Softmax<float> neg(-3);
  CHECK_THROWS_WITH(neg.forward(Tensor<float>({3, 4})), Catch::Contains("[-2, 1]"));
}

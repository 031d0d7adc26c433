#include <ember/ember.hpp>

#include <catch2/catch.hpp>

#include "helpers.hpp"

using namespace ember;

namespace {
struct Three {
  nn::Parameter<float> a, b, c;
  explicit Three(const golden::File& g)
      : a{Tensor<float>({3, 4}), test::to_tensor(g["a"])},
        b{Tensor<float>({5}), test::to_tensor(g["b"])},
        c{Tensor<float>({2, 3}), test::to_tensor(g["c"])} {}
  std::vector<nn::Parameter<float>*> params() { return {&a, &b, &c}; }
};

void check_clipping_against_torch(const golden::File& g, const std::string& config, double max_norm, double norm_type) {
  INFO("config " << config);
  Three t(g);
  const float total = nn::utils::clip_grad_norm_(t.params(), max_norm, norm_type);
  Tensor<float> total_tensor({});
  total_tensor.data()[0] = total;
  CHECK_CLOSE(total_tensor, g[config + ".total"]);
  CHECK_CLOSE(t.a.grad, g[config + ".a"]);
  CHECK_CLOSE(t.b.grad, g[config + ".b"]);
  CHECK_CLOSE(t.c.grad, g[config + ".c"]);
}
}  // namespace

TEST_CASE("clip_grad_norm_ follows torch 1.13 nn.utils.clip_grad_norm_", "[clip_grad][golden]") {
  const golden::File g("clip_grad_norm.txt");  // computed with torch 1.13 clip_grad_norm_; configs in the file's comments
  check_clipping_against_torch(g, "clip", 1.0, 2.0);
  check_clipping_against_torch(g, "no_clip", 100.0, 2.0);
  check_clipping_against_torch(g, "inf", 0.5, nn::utils::inf);
  check_clipping_against_torch(g, "l1", 3.0, 1.0);
  check_clipping_against_torch(g, "l3", 1.5, 3.0);
  check_clipping_against_torch(g, "zero", 0.0, 2.0);
}

TEST_CASE("clip_grad_norm_ leaves gradients under max_norm alone and fails on a wrong norm", "[clip_grad][golden]") {
  const golden::File g("clip_grad_norm.txt");
  Three t(g);
  nn::utils::clip_grad_norm_(t.params(), 100.0);
  for (std::int64_t i = 0; i < t.a.grad.numel(); ++i) CHECK(t.a.grad.data()[i] == static_cast<float>(g["a"].values[i]));
  // The 2-norm's clipped gradients are not the 1-norm's: the comparison sees the difference.
  Three u(g);
  nn::utils::clip_grad_norm_(u.params(), 3.0, 2.0);
  CHECK_FALSE(test::mismatch(u.a.grad, g["l1.a"]).empty());
}

TEST_CASE("clip_grad_norm_ handles no parameters and non-finite gradients as torch", "[clip_grad]") {
  CHECK(nn::utils::clip_grad_norm_(std::vector<nn::Parameter<float>*>{}, 1.0) == 0.0f);
  nn::Parameter<float> p{Tensor<float>({2}), Tensor<float>({2})};
  p.grad.data()[0] = std::numeric_limits<float>::infinity();
  p.grad.data()[1] = 1;
  CHECK(std::isinf(nn::utils::clip_grad_norm_(std::vector<nn::Parameter<float>*>{&p}, 1.0)));
  CHECK(std::isnan(p.grad.data()[0]));  // inf * 0, as torch
  CHECK(p.grad.data()[1] == 0.0f);
}

TEST_CASE("clip_grad_norm_ rejects bad arguments", "[clip_grad]") {
  nn::Parameter<float> p{Tensor<float>({2}), Tensor<float>({2})};
  std::vector<nn::Parameter<float>*> params{&p};
  CHECK_THROWS_WITH(nn::utils::clip_grad_norm_(params, -1.0), Catch::Contains("clip_grad_norm_: invalid max_norm -1"));
  CHECK_THROWS_WITH(nn::utils::clip_grad_norm_(params, 1.0, 0.0), Catch::Contains("invalid norm_type 0"));
  params.push_back(nullptr);
  CHECK_THROWS_WITH(nn::utils::clip_grad_norm_(params, 1.0), Catch::Contains("parameter 1 is null"));
}

TEST_CASE("clip_grad_norm_ overflows and underflows as torch's float norm does", "[clip_grad][golden]") {
  // Computed with torch 1.13 clip_grad_norm_ (tests/golden/clip_grad_norm.txt, configs 'overflow',
  // 'overflow_one', 'underflow', 'large'): torch sums the squares of a float tensor in float, so
  // past ~1.8e19 per element, or ~3.4e38 for the squares of the per-tensor norms together, the
  // total is inf and every gradient becomes 0; below ~1e-23 the squares vanish and the total is 0.
  const golden::File g("clip_grad_norm.txt");
  for (const std::string config : {"overflow", "overflow_one", "underflow", "large"}) {
    INFO("config " << config);
    nn::Parameter<float> a{Tensor<float>({3, 4}), test::to_tensor(g[config + ".in.a"])};
    nn::Parameter<float> b{Tensor<float>({5}), test::to_tensor(g[config + ".in.b"])};
    nn::Parameter<float> c{Tensor<float>({2, 3}), test::to_tensor(g[config + ".in.c"])};
    const float total = nn::utils::clip_grad_norm_(std::vector<nn::Parameter<float>*>{&a, &b, &c}, 1.0);
    const bool finite = g[config + ".finite"].values[0] == 1;
    CHECK(std::isfinite(total) == finite);
    if (finite) {
      Tensor<float> total_tensor({});
      total_tensor.data()[0] = total;
      CHECK_CLOSE(total_tensor, g[config + ".total"]);
      if (g[config + ".total"].values[0] == 0) CHECK(total == 0.0f);  // 'underflow': exactly, not ~1e-25
    }
    CHECK_CLOSE(a.grad, g[config + ".a"]);
    CHECK_CLOSE(b.grad, g[config + ".b"]);
    CHECK_CLOSE(c.grad, g[config + ".c"]);
  }
}

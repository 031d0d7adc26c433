// The gradient checker itself: it passes a right backward and FAILS a wrong one.
#include <ember/ember.hpp>
#include <ember/nn/gradcheck.hpp>

#include <catch2/catch.hpp>

#include "helpers.hpp"

using namespace ember;

namespace {

// A Linear whose backward is wrong in one chosen way.
struct BrokenLinear : nn::Linear<double> {
  enum class Bug { dweight_scaled, dx_offset, overwrites_grad } bug;
  BrokenLinear(Bug b) : nn::Linear<double>(4, 3), bug(b) {}
  const Tensor<double>& backward(const Tensor<double>& dy) {
    if (bug == Bug::overwrites_grad) weight().grad.zero();  // forgets to accumulate
    const Tensor<double>& dx = nn::Linear<double>::backward(dy);
    if (bug == Bug::dweight_scaled) weight().grad.array() *= 1.01;
    if (bug == Bug::dx_offset) const_cast<Tensor<double>&>(dx).array() += 1e-3;
    return dx;
  }
};

}  // namespace

TEST_CASE("gradcheck passes a correct Linear backward", "[gradcheck]") {
  manual_seed(0);
  nn::Linear<double> layer(4, 3);
  const auto r = nn::gradcheck(layer, test::random_tensor<double>({5, 4}, 1));
  INFO(r.report);
  CHECK(r.ok);
  CHECK(r.checked == 5 * 4 + 3 * 4 + 3);
  CHECK(r.max_error < 1e-8);
}

TEST_CASE("gradcheck fails a wrong gradient", "[gradcheck]") {
  manual_seed(0);
  for (auto bug : {BrokenLinear::Bug::dweight_scaled, BrokenLinear::Bug::dx_offset,
                   BrokenLinear::Bug::overwrites_grad}) {
    BrokenLinear layer(bug);
    const auto r = nn::gradcheck(layer, test::random_tensor<double>({5, 4}, 1));
    INFO("bug " << static_cast<int>(bug) << ": " << r.report);
    CHECK_FALSE(r.ok);
    CHECK_FALSE(r.report.empty());
  }
}

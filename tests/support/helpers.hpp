// Test helpers: golden tensors into ember tensors, and closeness checks that say where they fail.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <sstream>
#include <string>

#include <catch2/catch.hpp>

#include <ember/tensor.hpp>

#include "golden.hpp"

namespace test {

template <class T = float>
ember::Tensor<T> to_tensor(const golden::Tensor& g) {
  ember::Tensor<T> t(ember::Shape::from_range(g.shape.begin(), g.shape.end()));
  for (std::int64_t i = 0; i < g.numel(); ++i) t.data()[i] = static_cast<T>(g.values[i]);
  return t;
}

inline ember::Tensor<std::int64_t> to_labels(const golden::Tensor& g) { return to_tensor<std::int64_t>(g); }

// Float tolerance of the golden comparisons: |a - b| <= atol + rtol * |b|. The values are float32
// sums of at most a few thousand products computed in another order than torch's, so they
// differ by a few ulps of the largest term: rtol = 1e-5 (~80 ulps) with atol = 1e-6 for values
// near zero. An error of 0.1% in any element fails.
struct Tolerance {
  double rtol = 1e-5;
  double atol = 1e-6;
};

// Element-by-element comparison; on failure names the first bad element and the largest error.
template <class T>
std::string mismatch(const ember::Tensor<T>& actual, const golden::Tensor& expected, Tolerance tol = {}) {
  const auto want = ember::Shape::from_range(expected.shape.begin(), expected.shape.end());
  std::ostringstream out;
  if (!(actual.shape() == want)) {
    out << "shape " << actual.shape() << " != expected " << want;
    return out.str();
  }
  std::int64_t bad = -1, count = 0;
  double worst = 0;
  for (std::int64_t i = 0; i < actual.numel(); ++i) {
    const double a = static_cast<double>(actual.data()[i]), b = expected.values[i];
    const double err = std::abs(a - b);
    if (!(err <= tol.atol + tol.rtol * std::abs(b))) {
      if (bad < 0) bad = i;
      ++count;
    }
    worst = std::max(worst, err);
  }
  if (bad < 0) return "";
  out << count << " of " << actual.numel() << " elements differ; first at " << bad << ": "
      << static_cast<double>(actual.data()[bad]) << " vs expected " << expected.values[bad]
      << "; largest abs error " << worst;
  return out.str();
}

}  // namespace test

// CHECK that an ember tensor matches a golden tensor within the tolerance.
#define CHECK_CLOSE(actual, expected, ...)                                       \
  do {                                                                          \
    const std::string ember_mismatch_ = test::mismatch(actual, expected, ##__VA_ARGS__); \
    INFO(#actual << " vs " << #expected << ": " << ember_mismatch_);            \
    CHECK(ember_mismatch_.empty());                                             \
  } while (0)

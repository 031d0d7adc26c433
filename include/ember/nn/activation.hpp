// The element-wise activations, as torch.nn's (one family, as torch's activation.py):
//   nn::Sigmoid     y = 1 / (1 + exp(-x))
//   nn::Tanh        y = tanh(x)
//   nn::LeakyReLU   y = x > 0 ? x : negative_slope x          (negative_slope = 0.01)
//   nn::GELU        y = x Phi(x), Phi the normal CDF (erf form, torch's default), or torch's
//                   approximate = "tanh" form
// nn::ReLU has its own file (the seeds' layer). Sigmoid and Tanh differentiate from y alone;
// LeakyReLU and GELU read x again in backward() (a version-checked pointer, as Linear does).
#pragma once

#include <cmath>
#include <ostream>
#include <string_view>
#include <utility>

#include "ember/error.hpp"
#include "ember/nn/module.hpp"
#include "ember/tensor.hpp"
#include "ember/threads.hpp"

namespace ember::nn {
namespace detail {

// A layer y = f(x) element by element. Derived provides value(x) and slope(x, y) = dy/dx at that
// element; reads_x says whether slope() needs x (else it is handed y for both).
template <class T, class Derived, bool reads_x>
class Pointwise : public Module<T> {
 public:
  // Each call keeps its own saved state (detail::Tape): one object may be used several times.
  bool keeps_each_use() const override { return true; }
  // x: any shape -> y: same shape
  const Tensor<T>& forward(const Tensor<T>& x) override {
    Saved& saved = tape_.record(this->training_, &x);
    saved.y.resize_uninitialized(x.shape());
    const Derived& f = static_cast<const Derived&>(*this);
    const T* in = x.data();
    T* out = saved.y.data();
    const index_t n = x.numel();
    ember::detail::parallel_for(n, n > (1 << 15), [&](index_t i_begin, index_t i_end) {
      for (index_t i = i_begin; i < i_end; ++i) out[i] = f.value(in[i]);
    });
    if constexpr (reads_x)
      if (this->training_) saved.x.save(x);
    return saved.y;
  }
  const Tensor<T>& forward(Tensor<T>&&) = delete;

  // dx = dy * f'(x)
  const Tensor<T>& backward(const Tensor<T>& dy) override {
    Saved& saved = tape_.pop(*this);
    ember::detail::check(dy.shape() == saved.y.shape(), *this, ": expected dy of shape ", saved.y.shape(),
                         " (the output's), got ", dy.shape());
    const Derived& f = static_cast<const Derived&>(*this);
    const T* y = std::as_const(saved.y).data();
    const T* x = y;
    if constexpr (reads_x) x = saved.x.get(*this).data();
    saved.dx.resize_uninitialized(dy.shape());
    const T* g = dy.data();
    T* out = saved.dx.data();
    const index_t n = dy.numel();
    ember::detail::parallel_for(n, n > (1 << 15), [&](index_t i_begin, index_t i_end) {
      for (index_t i = i_begin; i < i_end; ++i) out[i] = g[i] * f.slope(x[i], y[i]);
    });
    return saved.dx;
  }

 private:
  struct Empty {};
  struct Saved {     // one use of the layer
    Tensor<T> y;     // y: x's shape
    Tensor<T> dx;    // dx: x's shape, its own per use (a use's dy may be another's dx)
    std::conditional_t<reads_x, SavedInput<T>, Empty> x;
  };
  Tape<Saved> tape_;
};

}  // namespace detail

template <class T = float>
class Sigmoid : public detail::Pointwise<T, Sigmoid<T>, false> {
 public:
  // As torch's CPU kernel: below x ~ -88 (float) exp(-x) overflows to inf and y is exactly 0.
  T value(T x) const { return T(1) / (T(1) + std::exp(-x)); }
  T slope(T, T y) const { return y * (T(1) - y); }
  void print(std::ostream& out, int = 0) const override { out << "Sigmoid()"; }
};

template <class T = float>
class Tanh : public detail::Pointwise<T, Tanh<T>, false> {
 public:
  T value(T x) const { return std::tanh(x); }
  T slope(T, T y) const { return T(1) - y * y; }
  void print(std::ostream& out, int = 0) const override { out << "Tanh()"; }
};

template <class T = float>
class LeakyReLU : public detail::Pointwise<T, LeakyReLU<T>, true> {
 public:
  explicit LeakyReLU(double negative_slope = 0.01) : negative_slope_(negative_slope) {}
  T value(T x) const { return x > T(0) ? x : x * static_cast<T>(negative_slope_); }
  // torch's leaky_relu_backward: x > 0 ? dy : dy * negative_slope (so the slope at 0 is negative_slope)
  T slope(T x, T) const { return x > T(0) ? T(1) : static_cast<T>(negative_slope_); }
  double negative_slope() const { return negative_slope_; }
  void print(std::ostream& out, int = 0) const override {
    out << "LeakyReLU(negative_slope=" << negative_slope_ << ")";
  }

 private:
  double negative_slope_;
};

template <class T = float>
class GELU : public detail::Pointwise<T, GELU<T>, true> {
 public:
  // approximate: "none" (x Phi(x) with erf) or "tanh", as torch.nn.GELU(approximate=...).
  explicit GELU(std::string_view approximate = "none") : tanh_(approximate == "tanh") {
    ember::detail::check(approximate == "none" || approximate == "tanh", "GELU: approximate must be 'none' or 'tanh', got '",
                         approximate, "'");
  }
  T value(T x) const {
    if (tanh_) return T(0.5) * x * (T(1) + std::tanh(k_ * (x + c_ * x * x * x)));
    return T(0.5) * x * (T(1) + std::erf(x * inv_sqrt2_));
  }
  // erf: Phi(x) + x phi(x); tanh: 0.5 (1 + t) + 0.5 x (1 - t^2) k (1 + 3 c x^2), t = tanh(k (x + c x^3))
  T slope(T x, T) const {
    if (tanh_) {
      const T t = std::tanh(k_ * (x + c_ * x * x * x));
      return T(0.5) * (T(1) + t) + T(0.5) * x * (T(1) - t * t) * k_ * (T(1) + T(3) * c_ * x * x);
    }
    const T cdf = T(0.5) * (T(1) + std::erf(x * inv_sqrt2_));
    const T pdf = std::exp(T(-0.5) * x * x) * inv_sqrt_2pi_;
    return cdf + x * pdf;
  }
  void print(std::ostream& out, int = 0) const override {
    out << "GELU(approximate='" << (tanh_ ? "tanh" : "none") << "')";
  }

 private:
  bool tanh_;
  static constexpr T inv_sqrt2_ = static_cast<T>(0.70710678118654752440);
  static constexpr T inv_sqrt_2pi_ = static_cast<T>(0.39894228040143267794);
  static constexpr T k_ = static_cast<T>(0.79788456080286535588);  // sqrt(2 / pi)
  static constexpr T c_ = static_cast<T>(0.044715);
};

static_assert(Layer<Sigmoid<float>>);
static_assert(Layer<Tanh<float>>);
static_assert(Layer<LeakyReLU<float>>);
static_assert(Layer<GELU<float>>);

}  // namespace ember::nn

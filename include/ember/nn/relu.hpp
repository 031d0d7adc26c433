// nn::ReLU: y = max(x, 0).
#pragma once

#include <ostream>

#include "ember/error.hpp"
#include "ember/nn/module.hpp"
#include "ember/tensor.hpp"

namespace ember::nn {

template <class T = float>
class ReLU : public Stateless<ReLU<T>, T> {
 public:
  // x: any shape -> y: same shape. backward() reads the mask from y, so nothing else is kept.
  const Tensor<T>& forward(const Tensor<T>& x) {
    y_.resize_uninitialized(x.shape());
    const T* in = x.data();
    T* out = y_.data();
    const index_t n = x.numel();
#pragma omp parallel for simd if (n > (1 << 16)) schedule(static)
    for (index_t i = 0; i < n; ++i) out[i] = in[i] > T(0) ? in[i] : T(0);
    have_forward_ = this->training_;
    return y_;
  }

  // dx = dy where y > 0, else 0 (PyTorch's threshold_backward: the gradient at x == 0 is 0).
  const Tensor<T>& backward(const Tensor<T>& dy) {
    ember::detail::check(have_forward_, "ReLU: backward() needs a forward() in train mode first");
    ember::detail::check(dy.shape() == y_.shape(), "ReLU: expected dy of shape ", y_.shape(),
                         " (the output's), got ", dy.shape());
    dx_.resize_uninitialized(dy.shape());
    const T* y = y_.data();
    const T* g = dy.data();
    T* out = dx_.data();
    const index_t n = dy.numel();
#pragma omp parallel for simd if (n > (1 << 16)) schedule(static)
    for (index_t i = 0; i < n; ++i) out[i] = y[i] > T(0) ? g[i] : T(0);
    return dx_;
  }

  friend std::ostream& operator<<(std::ostream& out, const ReLU&) { return out << "ReLU()"; }

 private:
  bool have_forward_ = false;
  Tensor<T> y_, dx_;  // same shape as x
};

}  // namespace ember::nn

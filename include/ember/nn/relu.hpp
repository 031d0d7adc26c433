// nn::ReLU: y = max(x, 0).
#pragma once

#include <ostream>
#include <utility>

#include "ember/error.hpp"
#include "ember/nn/module.hpp"
#include "ember/tensor.hpp"
#include "ember/threads.hpp"

namespace ember::nn {

template <class T = float>
class ReLU : public Module<T> {
 public:
  // Each call keeps its own saved state (detail::Tape): one object may be used several times.
  bool keeps_each_use() const override { return true; }
  // x: any shape -> y: same shape. backward() reads the mask from y, so nothing else is kept.
  const Tensor<T>& forward(const Tensor<T>& x) override {
    Tensor<T>& y = tape_.record(this->training_, &x).y;
    y.resize_uninitialized(x.shape());
    const T* in = x.data();
    T* out = y.data();
    const index_t n = x.numel();
    ember::detail::parallel_for(n, n > (1 << 16), [&](index_t i_begin, index_t i_end) {
#pragma omp simd
      for (index_t i = i_begin; i < i_end; ++i) out[i] = in[i] > T(0) ? in[i] : T(0);
    });
    return y;
  }

  // dx = dy where y > 0, else 0 (PyTorch's threshold_backward: the gradient at x == 0 is 0).
  const Tensor<T>& backward(const Tensor<T>& dy) override {
    Saved& saved = tape_.pop(*this);
    const Tensor<T>& y_saved = saved.y;
    ember::detail::check(dy.shape() == y_saved.shape(), *this, ": expected dy of shape ", y_saved.shape(),
                         " (the output's), got ", dy.shape());
    saved.dx.resize_uninitialized(dy.shape());
    const T* y = y_saved.data();
    const T* g = dy.data();
    T* out = saved.dx.data();
    const index_t n = dy.numel();
    ember::detail::parallel_for(n, n > (1 << 16), [&](index_t i_begin, index_t i_end) {
#pragma omp simd
      for (index_t i = i_begin; i < i_end; ++i) {
        const T gi = g[i];  // loaded whatever y says, so the select vectorizes
        out[i] = y[i] > T(0) ? gi : T(0);
      }
    });
    return saved.dx;
  }

  void print(std::ostream& out, int = 0) const override { out << "ReLU()"; }

 private:
  struct Saved {  // one use of the layer; both of x's shape
    Tensor<T> y;
    Tensor<T> dx;  // its own per use: a use's dy may be another's dx
  };
  detail::Tape<Saved> tape_;
};

static_assert(Layer<ReLU<float>>);

}  // namespace ember::nn

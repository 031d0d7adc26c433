// nn::Flatten(start_dim = 1, end_dim = -1): a view of the input with dims start..end merged.
#pragma once

#include <ostream>
#include <array>

#include "ember/error.hpp"
#include "ember/nn/module.hpp"
#include "ember/tensor.hpp"

namespace ember::nn {

template <class T = float>
class Flatten : public Stateless<Flatten<T>, T> {
 public:
  explicit Flatten(int start_dim = 1, int end_dim = -1) : start_dim_(start_dim), end_dim_(end_dim) {}

  // x: (N, C, H, W) -> y: (N, C*H*W) for the defaults; a view, no copy.
  const Tensor<T>& forward(const Tensor<T>& x) {
    const int r = x.dim();
    const int s = start_dim_ < 0 ? start_dim_ + r : start_dim_;
    const int e = end_dim_ < 0 ? end_dim_ + r : end_dim_;
    ember::detail::check(r > 0 && s >= 0 && e < r && s <= e, *this, ": cannot flatten an input of shape ", x.shape());
    std::array<index_t, Shape::max_dims> dims{};
    int n = 0;
    for (int d = 0; d < s; ++d) dims[n++] = x.size(d);
    dims[n] = 1;
    for (int d = s; d <= e; ++d) dims[n] *= x.size(d);
    ++n;
    for (int d = e + 1; d < r; ++d) dims[n++] = x.size(d);
    x_shape_ = x.shape();
    y_ = x.reshape(Shape::from_range(dims.begin(), dims.begin() + n));
    return y_;
  }

  const Tensor<T>& forward(Tensor<T>&&) = delete;  // the output is a view of x: x must outlive it

  // dy: the output's shape -> dx: the input's shape (a view of dy).
  const Tensor<T>& backward(const Tensor<T>& dy) {
    ember::detail::check(y_.dim() > 0 && dy.shape() == y_.shape(), *this, ": expected dy of shape ",
                         y_.shape(), " (the output's), got ", dy.shape());
    dx_ = dy.reshape(x_shape_);
    return dx_;
  }

  friend std::ostream& operator<<(std::ostream& out, const Flatten& f) {
    return out << "Flatten(start_dim=" << f.start_dim_ << ", end_dim=" << f.end_dim_ << ")";
  }

 private:
  int start_dim_, end_dim_;
  Shape x_shape_;
  Tensor<T> y_, dx_;  // views
};

}  // namespace ember::nn

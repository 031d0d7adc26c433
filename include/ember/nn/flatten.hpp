// nn::Flatten(start_dim = 1, end_dim = -1): a view of the input with dims start..end merged.
#pragma once

#include <array>
#include <ostream>

#include "ember/error.hpp"
#include "ember/nn/module.hpp"
#include "ember/tensor.hpp"

namespace ember::nn {

template <class T = float>
class Flatten : public Module<T> {
 public:
  // Each call keeps its own saved state (detail::Tape): one object may be used several times.
  bool keeps_each_use() const override { return true; }
  explicit Flatten(int start_dim = 1, int end_dim = -1) : start_dim_(start_dim), end_dim_(end_dim) {}

  // x: (N, C, H, W) -> y: (N, C*H*W) for the defaults; a read-only view of x, no copy.
  const Tensor<T>& forward(const Tensor<T>& x) override {
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
    Saved& saved = tape_.record(this->training_, &x);
    saved.x_shape = x.shape();
    saved.y = x.reshape(Shape::from_range(dims.begin(), dims.begin() + n));
    return saved.y;
  }
  const Tensor<T>& forward(Tensor<T>&&) = delete;  // the output is a view of x: x must outlive it

  // dy: the output's shape -> dx: the input's shape (a view of dy).
  const Tensor<T>& backward(const Tensor<T>& dy) override {
    Saved& saved = tape_.pop(*this);
    ember::detail::check(dy.shape() == saved.y.shape(), *this, ": expected dy of shape ", saved.y.shape(),
                         " (the output's), got ", dy.shape());
    saved.dx = dy.reshape(saved.x_shape);
    return saved.dx;
  }

  void print(std::ostream& out, int = 0) const override {
    out << "Flatten(start_dim=" << start_dim_ << ", end_dim=" << end_dim_ << ")";
  }

 private:
  struct Saved {
    Shape x_shape;
    Tensor<T> y;   // a view of x
    Tensor<T> dx;  // a view of dy
  };
  int start_dim_, end_dim_;
  detail::Tape<Saved> tape_;
};

static_assert(Layer<Flatten<float>>);

}  // namespace ember::nn

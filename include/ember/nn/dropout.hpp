// nn::Dropout(p = 0.5), as torch.nn.Dropout: in train mode each element is zeroed with
// probability p and the others scaled by 1 / (1 - p); backward applies the same mask. In eval
// mode it is the identity (forward returns its input).
#pragma once

#include <ostream>
#include <utility>

#include "ember/error.hpp"
#include "ember/nn/module.hpp"
#include "ember/random.hpp"
#include "ember/tensor.hpp"

namespace ember::nn {

template <class T = float>
class Dropout : public Module<T> {
 public:
  // The layer's own generator is seeded from the default generator, so manual_seed(n) before
  // building the model fixes every mask; its state is saved in checkpoints (visit_state).
  explicit Dropout(double p = 0.5) : p_(p), generator_(default_generator().next_u64()) {
    ember::detail::check(p >= 0 && p <= 1, *this, ": dropout probability has to be between 0 and 1, but got ", p);
  }

  // x: any shape -> y: same shape.
  const Tensor<T>& forward(const Tensor<T>& x) override {
    if (!this->training_) {
      tape_.record(false, &x);
      return x;
    }
    Saved& saved = tape_.record(true, &x);
    saved.mask.resize_uninitialized(x.shape());
    saved.y.resize_uninitialized(x.shape());
    // An element is dropped when a uniform draw in [0, 1) falls below p; kept ones are scaled.
    const T scale = p_ < 1 ? T(1) / static_cast<T>(1 - p_) : T(0);  // as torch: noise.div_(1 - p)
    T* mask = saved.mask.data();
    T* y = saved.y.data();
    const T* in = x.data();
    const index_t n = x.numel();
    for (index_t i = 0; i < n; ++i) mask[i] = generator_.uniform() < p_ ? T(0) : scale;
    for (index_t i = 0; i < n; ++i) y[i] = in[i] * mask[i];
    return saved.y;
  }
  const Tensor<T>& forward(Tensor<T>&&) = delete;

  // dx = dy * mask (the forward's mask, already scaled).
  const Tensor<T>& backward(const Tensor<T>& dy) override {
    Saved& saved = tape_.pop(*this);
    ember::detail::check(dy.shape() == saved.y.shape(), *this, ": expected dy of shape ", saved.y.shape(),
                         " (the output's), got ", dy.shape());
    saved.dx.resize_uninitialized(dy.shape());
    saved.dx.array() = dy.array() * std::as_const(saved.mask).array();
    return saved.dx;
  }

  void visit_state(StateVisitor<T>& v, const Name* prefix = nullptr) override {
    v.generator(Name(prefix, "generator"), generator_);
  }
  void print(std::ostream& out, int = 0) const override { out << "Dropout(p=" << p_ << ", inplace=False)"; }

  double p() const { return p_; }
  Generator& generator() { return generator_; }

 private:
  struct Saved {
    Tensor<T> mask;  // 0 or 1 / (1 - p), x's shape
    Tensor<T> y;
    Tensor<T> dx;    // its own per use: a use's dy may be another's dx
  };
  double p_;
  Generator generator_;
  detail::Tape<Saved> tape_;
};

static_assert(Layer<Dropout<float>>);

}  // namespace ember::nn

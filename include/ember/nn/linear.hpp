// nn::Linear: y = x W^T + b, as torch.nn.Linear.
#pragma once

#include <cmath>
#include <ostream>
#include <string>
#include <utility>

#include "ember/error.hpp"
#include "ember/nn/module.hpp"
#include "ember/kernels/gemm.hpp"
#include "ember/random.hpp"
#include "ember/tensor.hpp"
#include "ember/threads.hpp"

namespace ember::nn {

template <class T = float>
class Linear : public Module<T> {
 public:
  // Each call keeps its own saved state (detail::Tape): one object may be used several times.
  bool keeps_each_use() const override { return true; }
  // weight: (out_features, in_features), bias: (out_features,), PyTorch's default init.
  Linear(index_t in_features, index_t out_features, bool bias = true)
      : in_features_(in_features), out_features_(out_features), has_bias_(bias) {
    ember::detail::check(in_features > 0 && out_features > 0, "Linear(", in_features, ", ", out_features,
                         "): in_features and out_features must be positive");
    weight_.value.resize({out_features, in_features});
    weight_.grad.resize({out_features, in_features});
    init::kaiming_uniform_(weight_.value);
    if (has_bias_) {
      bias_.value.resize({out_features});
      bias_.grad.resize({out_features});
      const double bound = 1.0 / std::sqrt(static_cast<double>(in_features));
      init::uniform_(bias_.value, -bound, bound);
    }
  }

  // x: (N, in_features) -> y: (N, out_features). Keeps a pointer to x for backward (no copy), so
  // x must stay alive and unchanged until then (a changed x is refused by its version; a
  // temporary x does not compile).
  const Tensor<T>& forward(const Tensor<T>& x) override {
    ember::detail::check(x.dim() == 2 && x.size(1) == in_features_, *this, ": expected input of shape (N, ",
                         in_features_, "), got ", x.shape(), x.dim() > 2 ? " (use nn::Flatten before it)" : "");
    const index_t n = x.size(0);
    Saved& saved = tape_.record(this->training_, &x);
    Tensor<T>& y = saved.y;
    y.resize_uninitialized({n, out_features_});
    const index_t work = n * in_features_ * out_features_;
    // y = x W^T + b by kernels::gemm_abt, from W^T and b packed into panels of output features
    // (about 1.7x Eigen's GEMM on these shapes; docs/design.md). Each output is summed in the
    // same order however the work is split, so results do not depend on the thread count.
    const index_t panels = kernels::abt_panels<T>(out_features_);
    // The packed W^T and b are kept while the parameters' versions say they did not change (an
    // optimizer's step, a load or any non-const access bumps them): eval-mode inference packs
    // once. A write through a pointer kept from an earlier data() call is not seen (as for the
    // saved input): write weights through the tensor each time.
    const bool packed_fresh =
        packed_of_.matches(weight_.value, has_bias_ ? &bias_.value : nullptr) && packed_isa_ == kernels::isa();
    if (!packed_fresh) packed_.resize_uninitialized({kernels::packed_abt_size<T>(out_features_, in_features_)});
    const T* bias = has_bias_ ? std::as_const(bias_.value).data() : nullptr;
    const T* weight = std::as_const(weight_.value).data();
    T* packed = packed_.data();
    T* y_data = y.data();
    const auto multiply = [&](index_t row_begin, index_t row_end, index_t panel_begin, index_t panel_end) {
      kernels::gemm_abt(x.data() + row_begin * in_features_, in_features_, row_end - row_begin, packed, out_features_,
                     in_features_, y_data + row_begin * out_features_, out_features_, panel_begin, panel_end);
    };
    const auto pack = [&](index_t begin, index_t end) {
      if (!packed_fresh) kernels::pack_abt(weight, bias, out_features_, in_features_, packed, begin, end);
    };
    if (panels >= ember::get_num_threads()) {
      // Panels split among threads: a thread packs the panels it multiplies by, so no packed
      // line moves between cores, and (training) it reads only the rows of W that its backward
      // and the optimizer's step then write.
      ember::detail::parallel_blocks(panels, 1, work, [&](index_t begin, index_t end) {
        pack(begin, end);
        multiply(0, n, begin, end);
      });
    } else {
      // Too few panels (out_features up to 64 floats with AVX-512, two threads): rows split.
      pack(0, panels);
      ember::detail::parallel_blocks(n, 16, work, [&](index_t begin, index_t end) { multiply(begin, end, 0, panels); });
    }
    if (!packed_fresh) {
      packed_of_.note(weight_.value, has_bias_ ? &bias_.value : nullptr);
      packed_isa_ = kernels::isa();
    }
    if (this->training_) saved.x.save(x);
    return y;
  }
  const Tensor<T>& forward(Tensor<T>&&) = delete;

  // dy: (N, out_features) -> dx: (N, in_features); dweight += dy^T x, dbias += sum_n dy.
  const Tensor<T>& backward(const Tensor<T>& dy) override {
    Saved& saved = tape_.pop(*this);
    ember::detail::check(dy.shape() == saved.y.shape(), *this, ": expected dy of shape ", saved.y.shape(),
                         " (the output's), got ", dy.shape());
    const Tensor<T>& x = saved.x.get(*this);
    const index_t n = dy.size(0), in = in_features_, out = out_features_;
    const auto dy_m = dy.matrix();
    T* dweight = weight_.grad.data();
    T* dx = nullptr;
    // kernels::gemm_ab computes rows of in_features values in packets; narrower rows go to Eigen,
    // and so does all of it where Eigen's GEMM, compiled for the same instruction set, measured
    // faster at these shapes (kernels::gemm_ab_wins_on_linear_backward).
    const bool packets = kernels::gemm_ab_wins_on_linear_backward() && in >= kernels::lanes_now<T>();
    // dweight's rows (output features) split among threads as in forward; each row's sum over
    // the batch stays in one thread. dweight += dy^T x reads dy^T in place (A's row stride 1).
    ember::detail::parallel_blocks(out, 16, n * in * out, [&](index_t begin, index_t end) {
      const index_t rows = end - begin;
      if (packets)
        kernels::gemm_ab_add(dy.data() + begin, x.data(), dweight + begin * in, rows, in,
                          {.ars = 1, .acs = out, .ldb = in, .ldc = in, .k = n});
      else
        weight_.grad.matrix().middleRows(begin, rows).noalias() += dy_m.middleCols(begin, rows).transpose() * x.matrix();
      if (has_bias_) bias_.grad.matrix().row(0).segment(begin, rows) += dy_m.middleCols(begin, rows).colwise().sum();
    });
    if (this->needs_input_grad_) {
      saved.dx.resize_uninitialized(x.shape());
      dx = saved.dx.data();
      const T* weight = std::as_const(weight_.value).data();
      ember::detail::parallel_blocks(n, 16, n * in * out, [&](index_t begin, index_t end) {  // dx = dy W
        if (packets)
          kernels::gemm_ab(dy.data() + begin * out, weight, dx + begin * in, end - begin, in,
                        {.ars = out, .acs = 1, .ldb = in, .ldc = in, .k = out}, static_cast<const T*>(nullptr));
        else
          saved.dx.matrix().middleRows(begin, end - begin).noalias() = dy_m.middleRows(begin, end - begin) * std::as_const(weight_.value).matrix();
      });
    } else {
      saved.dx.resize_uninitialized({0});
    }
    return saved.dx;
  }

  void visit_state(StateVisitor<T>& v, const Name* prefix = nullptr) override {
    v.parameter(Name(prefix, "weight"), weight_);
    if (has_bias_) v.parameter(Name(prefix, "bias"), bias_);
  }

  Parameter<T>& weight() { return weight_; }
  Parameter<T>& bias() {
    ember::detail::check(has_bias_, *this, ": this layer has no bias");
    return bias_;
  }
  index_t in_features() const { return in_features_; }
  index_t out_features() const { return out_features_; }

  void print(std::ostream& out, int = 0) const override {
    out << "Linear(in_features=" << in_features_ << ", out_features=" << out_features_
        << ", bias=" << (has_bias_ ? "True" : "False") << ")";
  }

 private:
  index_t in_features_, out_features_;
  bool has_bias_;
  Parameter<T> weight_, bias_;
  struct Saved {                 // one use of the layer
    detail::SavedInput<T> x;     // x: (N, in_features), read again by backward
    Tensor<T> y;                 // y: (N, out_features)
    Tensor<T> dx;                // dx: (N, in_features), its own per use (a use's dy may be another's dx)
  };
  detail::Tape<Saved> tape_;
  Tensor<T> packed_;             // W^T and b in kernels::gemm_abt's panels
  detail::VersionsOf<T> packed_of_;  // the weight and bias versions packed_ holds
  kernels::Isa packed_isa_{};        // and the instruction set whose panels it has
};

static_assert(Layer<Linear<float>>);

}  // namespace ember::nn

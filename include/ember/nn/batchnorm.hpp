// nn::BatchNorm1d and nn::BatchNorm2d, as torch.nn's: per channel c,
//   train: y = (x - mean_c) / sqrt(var_c + eps) * weight_c + bias_c over the batch's statistics
//          (var biased), and running_mean/var <- (1 - m) * running + m * batch statistic, the
//          variance unbiased (M / (M - 1)); m = momentum, or 1 / num_batches_tracked when
//          momentum is nullopt (PyTorch's momentum=None: a cumulative average).
//   eval:  the same with running_mean and running_var (with track_running_stats).
// BatchNorm1d takes (N, C) or (N, C, L); BatchNorm2d (N, C, H, W).
#pragma once

#include <cmath>
#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "ember/error.hpp"
#include "ember/nn/module.hpp"
#include "ember/tensor.hpp"

namespace ember::nn {

struct BatchNormOptions {
  double eps = 1e-5;
  std::optional<double> momentum = 0.1;
  bool affine = true;
  bool track_running_stats = true;
};

namespace detail {

template <class T>
class BatchNorm : public Module<T> {
 public:
  // Each call keeps its own saved state (detail::Tape): one object may be used several times.
  bool keeps_each_use() const override { return true; }
  using Options = BatchNormOptions;

  // weight: (C,) ones, bias: (C,) zeros, running_mean zeros, running_var ones (PyTorch's).
  BatchNorm(const char* kind, index_t num_features, const BatchNormOptions& options)
      : kind_(kind), c_(num_features), options_(options) {
    ember::detail::check(num_features > 0, *this, ": num_features must be positive");
    ember::detail::check(options.eps > 0 && std::isfinite(options.eps), *this, ": eps must be positive, got ", options.eps);
    ember::detail::check(!options.momentum || (*options.momentum >= 0 && *options.momentum <= 1), *this,
                         ": momentum must be in [0, 1], got ", options.momentum.value_or(0));
    if (options_.affine) {
      weight_.value.resize({c_});
      weight_.value.fill(T(1));
      weight_.grad.resize({c_});
      bias_.value.resize({c_});
      bias_.grad.resize({c_});
    }
    if (options_.track_running_stats) {
      running_mean_.resize({c_});
      running_var_.resize({c_});
      running_var_.fill(T(1));
      num_batches_tracked_.resize(Shape{});  // 0-d, as PyTorch's
    }
  }

  const Tensor<T>& forward(const Tensor<T>& x) override {
    const bool is_1d = kind_[9] == '1';
    const bool rank_ok = is_1d ? (x.dim() == 2 || x.dim() == 3) : x.dim() == 4;
    if (!rank_ok || x.size(1) != c_)
      throw Error(ember::detail::concat(*this, ": expected input of shape ",
                                        is_1d ? ember::detail::concat("(N, ", c_, ") or (N, ", c_, ", L)")
                                              : ember::detail::concat("(N, ", c_, ", H, W)"),
                                        ", got ", x.shape()));
    const index_t n = x.size(0), s = x.numel() / (n * c_), m = n * s;  // s: values per sample and channel
    const bool batch_stats = this->training_ || !options_.track_running_stats;
    Saved& saved = tape_.record(this->training_, &x);
    saved.y.resize_uninitialized(x.shape());
    saved.xhat.resize_uninitialized(x.shape());
    saved.invstd.resize_uninitialized({c_});
    ember::detail::check(!batch_stats || m > 1, *this, ": expected more than 1 value per channel when training, got input ",
                         x.shape());
    const T* in = x.data();
    T* y = saved.y.data();
    T* xhat = saved.xhat.data();
    T* invstd = saved.invstd.data();
    const bool update = this->training_ && options_.track_running_stats;
    double factor = 0;
    if (update) {
      std::int64_t& tracked = num_batches_tracked_.data()[0];
      ++tracked;
      factor = options_.momentum ? *options_.momentum : 1.0 / static_cast<double>(tracked);
    }
    T* rm = update || !batch_stats ? running_mean_.data() : nullptr;
    T* rv = update || !batch_stats ? running_var_.data() : nullptr;
    const T* w = options_.affine ? std::as_const(weight_.value).data() : nullptr;
    const T* b = options_.affine ? std::as_const(bias_.value).data() : nullptr;
    for (index_t c = 0; c < c_; ++c) {
      double mean, var;
      if (batch_stats) {  // two passes in double, as torch accumulates
        double sum = 0;
        for (index_t i = 0; i < n; ++i)
          for (index_t j = 0; j < s; ++j) sum += in[(i * c_ + c) * s + j];
        mean = sum / static_cast<double>(m);
        double sq = 0;
        for (index_t i = 0; i < n; ++i)
          for (index_t j = 0; j < s; ++j) {
            const double d = in[(i * c_ + c) * s + j] - mean;
            sq += d * d;
          }
        var = sq / static_cast<double>(m);
        if (update) {
          rm[c] = static_cast<T>((1 - factor) * rm[c] + factor * mean);
          rv[c] = static_cast<T>((1 - factor) * rv[c] + factor * sq / static_cast<double>(m - 1));
        }
      } else {
        mean = rm[c];
        var = rv[c];
      }
      const T inv = static_cast<T>(1.0 / std::sqrt(var + options_.eps));
      const T mu = static_cast<T>(mean);
      invstd[c] = inv;
      const T scale = w ? w[c] : T(1), shift = b ? b[c] : T(0);
      for (index_t i = 0; i < n; ++i) {
        const index_t at = (i * c_ + c) * s;
        for (index_t j = 0; j < s; ++j) {
          xhat[at + j] = (in[at + j] - mu) * inv;
          y[at + j] = xhat[at + j] * scale + shift;
        }
      }
    }
    return saved.y;
  }

  // Batch statistics (train mode): dxhat = dy * weight,
  //   dx = invstd / M * (M dxhat - sum(dxhat) - xhat * sum(dxhat * xhat)),
  //   dweight += sum(dy * xhat), dbias += sum(dy), sums over the batch and the spatial positions.
  const Tensor<T>& backward(const Tensor<T>& dy) override {
    Saved& saved = tape_.pop(*this);
    ember::detail::check(dy.shape() == saved.y.shape(), *this, ": expected dy of shape ", saved.y.shape(),
                         " (the output's), got ", dy.shape());
    const index_t n = dy.size(0), s = dy.numel() / (n * c_), m = n * s;
    const T* g = dy.data();
    const T* xhat = std::as_const(saved.xhat).data();
    const T* invstd = std::as_const(saved.invstd).data();
    T* dw = options_.affine ? weight_.grad.data() : nullptr;
    T* db = options_.affine ? bias_.grad.data() : nullptr;
    const T* w = options_.affine ? std::as_const(weight_.value).data() : nullptr;
    T* dx = nullptr;
    if (this->needs_input_grad_) {
      saved.dx.resize_uninitialized(dy.shape());
      dx = saved.dx.data();
    } else {
      saved.dx.resize_uninitialized({0});
    }
    for (index_t c = 0; c < c_; ++c) {
      double sum_dy = 0, sum_dy_xhat = 0;
      for (index_t i = 0; i < n; ++i) {
        const index_t at = (i * c_ + c) * s;
        for (index_t j = 0; j < s; ++j) {
          sum_dy += g[at + j];
          sum_dy_xhat += static_cast<double>(g[at + j]) * xhat[at + j];
        }
      }
      if (dw) {
        dw[c] += static_cast<T>(sum_dy_xhat);
        db[c] += static_cast<T>(sum_dy);
      }
      if (!dx) continue;
      const double scale = w ? w[c] : 1.0;
      const T mean_dxhat = static_cast<T>(scale * sum_dy / static_cast<double>(m));
      const T mean_dxhat_xhat = static_cast<T>(scale * sum_dy_xhat / static_cast<double>(m));
      const T k = static_cast<T>(scale) * invstd[c];
      const T inv = invstd[c];
      for (index_t i = 0; i < n; ++i) {
        const index_t at = (i * c_ + c) * s;
        for (index_t j = 0; j < s; ++j)
          dx[at + j] = k * g[at + j] - inv * (mean_dxhat + xhat[at + j] * mean_dxhat_xhat);
      }
    }
    return saved.dx;
  }

  void visit_state(StateVisitor<T>& v, const Name* prefix = nullptr) override {
    if (options_.affine) {
      v.parameter(Name(prefix, "weight"), weight_);
      v.parameter(Name(prefix, "bias"), bias_);
    }
    if (options_.track_running_stats) {
      v.buffer(Name(prefix, "running_mean"), running_mean_);
      v.buffer(Name(prefix, "running_var"), running_var_);
      v.buffer(Name(prefix, "num_batches_tracked"), num_batches_tracked_);
    }
  }

  void print(std::ostream& out, int = 0) const override {
    out << kind_ << "(" << c_ << ", eps=" << options_.eps << ", momentum=";
    if (options_.momentum) out << *options_.momentum;
    else out << "None";
    out << ", affine=" << (options_.affine ? "True" : "False")
        << ", track_running_stats=" << (options_.track_running_stats ? "True" : "False") << ")";
  }

  Parameter<T>& weight() {
    ember::detail::check(options_.affine, *this, ": affine=False: no weight");
    return weight_;
  }
  Parameter<T>& bias() {
    ember::detail::check(options_.affine, *this, ": affine=False: no bias");
    return bias_;
  }
  Tensor<T>& running_mean() { return running_mean_; }
  Tensor<T>& running_var() { return running_var_; }
  // A 0-d tensor (PyTorch's int64 buffer); num_batches_tracked().data()[0] is the count.
  Tensor<std::int64_t>& num_batches_tracked() { return num_batches_tracked_; }
  index_t num_features() const { return c_; }
  const BatchNormOptions& options() const { return options_; }

 private:
  struct Saved {
    Tensor<T> y;       // y: x's shape
    Tensor<T> xhat;    // (x - mean) * invstd: x's shape
    Tensor<T> invstd;  // (C,)
    Tensor<T> dx;      // its own per use: a use's dy may be another's dx
  };
  const char* kind_;
  index_t c_;
  BatchNormOptions options_;
  Parameter<T> weight_, bias_;
  Tensor<T> running_mean_, running_var_;      // (C,), when tracked
  Tensor<std::int64_t> num_batches_tracked_;  // 0-d, when tracked
  detail::Tape<Saved> tape_;
};

}  // namespace detail

template <class T = float>
class BatchNorm1d : public detail::BatchNorm<T> {
 public:
  explicit BatchNorm1d(index_t num_features, const BatchNormOptions& options = {})
      : detail::BatchNorm<T>("BatchNorm1d", num_features, options) {}
};

template <class T = float>
class BatchNorm2d : public detail::BatchNorm<T> {
 public:
  explicit BatchNorm2d(index_t num_features, const BatchNormOptions& options = {})
      : detail::BatchNorm<T>("BatchNorm2d", num_features, options) {}
};

static_assert(Layer<BatchNorm1d<float>>);
static_assert(Layer<BatchNorm2d<float>>);

}  // namespace ember::nn

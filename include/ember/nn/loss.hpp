// The classification losses, as torch.nn's: nn::NLLLoss on log-probabilities and
// nn::CrossEntropyLoss, a fused log-softmax + NLL on logits. Both take class weights, an
// ignored label and a reduction; CrossEntropyLoss also label smoothing. Torch's definitions:
//   the weighted mean divides by the summed weights of the targets that are not ignored;
//   an ignored target adds nothing to the loss and gets a zero gradient;
//   with smoothing eps over C classes, loss = (1 - eps) nll + eps / C * smooth, where a row's
//   smooth term is -sum_c w_c log p_c over the rows not ignored, divided by the same divisor as
//   the nll term for the mean (torch 1.13's cross_entropy_loss_label_smoothing).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <ostream>
#include <vector>

#include "ember/error.hpp"
#include "ember/tensor.hpp"

namespace ember::nn {

enum class Reduction { mean, sum };  // torch's 'mean' and 'sum' ('none' is not supported)

struct NLLLossOptions {
  std::vector<double> weight = {};  // one per class; empty: all 1
  std::int64_t ignore_index = -100;
  Reduction reduction = Reduction::mean;
};

struct CrossEntropyLossOptions {
  std::vector<double> weight = {};  // one per class; empty: all 1
  std::int64_t ignore_index = -100;
  Reduction reduction = Reduction::mean;
  double label_smoothing = 0.0;     // in [0, 1]
};

namespace detail {

// Checks the shapes, the labels and the weights of one forward(); returns the nll term's divisor
// (the summed weights of the targets not ignored for 'mean', 1 for 'sum').
template <class T>
double check_targets(const char* who, const char* input_name, const Tensor<T>& input, const Tensor<std::int64_t>& labels,
                     const std::vector<T>& weight, std::int64_t ignore_index, Reduction reduction) {
  ember::detail::check(input.dim() == 2 && input.size(0) > 0, who, ": expected input of shape (N, C), got ",
                       input.shape());
  const index_t n = input.size(0), c = input.size(1);
  ember::detail::check(labels.dim() == 1 && labels.size(0) == n, who, ": expected labels of shape (", n,
                       ",) to match ", input_name, " ", input.shape(), ", got ", labels.shape());
  ember::detail::check(weight.empty() || static_cast<index_t>(weight.size()) == c, who, ": ", weight.size(),
                       " class weights for an input of ", c, " classes ", input.shape());
  const std::int64_t* y = labels.data();
  double total = 0;
  for (index_t i = 0; i < n; ++i) {
    if (y[i] == ignore_index) continue;
    ember::detail::check(y[i] >= 0 && y[i] < c, who, ": label ", y[i], " at position ", i, " is out of range for ", c,
                         " classes",
                         " (and is not ignore_index ", ignore_index, ")");
    total += weight.empty() ? 1.0 : static_cast<double>(weight[y[i]]);
  }
  return reduction == Reduction::mean ? total : 1.0;
}

template <class T>
std::vector<T> class_weights(const std::vector<double>& w) {
  return std::vector<T>(w.begin(), w.end());
}

}  // namespace detail

// The negative log-likelihood of the labels under log-probabilities (LogSoftmax's output).
template <class T = float>
class NLLLoss {
 public:
  using value_type = T;

  explicit NLLLoss(const NLLLossOptions& options = {})
      : weight_(detail::class_weights<T>(options.weight)), ignore_index_(options.ignore_index),
        reduction_(options.reduction) {}

  // log_probs: (N, C), labels: (N,) class indices in [0, C) or ignore_index. Returns
  // -sum_i w[y_i] log_probs[i, y_i], divided by sum_i w[y_i] for the mean.
  T forward(const Tensor<T>& log_probs, const Tensor<std::int64_t>& labels) {
    const double divisor = detail::check_targets("NLLLoss", "log_probs", log_probs, labels, weight_, ignore_index_, reduction_);
    const index_t n = log_probs.size(0), c = log_probs.size(1);
    dlog_probs_.resize_uninitialized(log_probs.shape());
    dlog_probs_.zero();
    const std::int64_t* y = labels.data();
    double total = 0;
    for (index_t i = 0; i < n; ++i) {
      if (y[i] == ignore_index_) continue;
      const T w = weight_.empty() ? T(1) : weight_[y[i]];
      total -= static_cast<double>(w * log_probs.data()[i * c + y[i]]);
      dlog_probs_.data()[i * c + y[i]] = static_cast<T>(-static_cast<double>(w) / divisor);
    }
    have_forward_ = true;
    return static_cast<T>(total / divisor);  // all ignored, 'mean': 0 / 0 = NaN, as torch
  }

  // dlog_probs: (N, C), -w[y_i] / divisor at (i, y_i), zero elsewhere.
  const Tensor<T>& backward() const {
    ember::detail::check(have_forward_, "NLLLoss: backward() needs a forward() first");
    return dlog_probs_;
  }

  friend std::ostream& operator<<(std::ostream& out, const NLLLoss&) { return out << "NLLLoss()"; }

 private:
  std::vector<T> weight_;
  std::int64_t ignore_index_;
  Reduction reduction_;
  bool have_forward_ = false;
  Tensor<T> dlog_probs_;
};

// Fused, numerically stable log-softmax + NLL on logits.
template <class T = float>
class CrossEntropyLoss {
 public:
  using value_type = T;

  explicit CrossEntropyLoss(const CrossEntropyLossOptions& options = {})
      : weight_(detail::class_weights<T>(options.weight)), ignore_index_(options.ignore_index),
        reduction_(options.reduction), smoothing_(options.label_smoothing) {
    ember::detail::check(smoothing_ >= 0.0 && smoothing_ <= 1.0,
                         "CrossEntropyLoss: label_smoothing must be between 0.0 and 1.0, got ", smoothing_);
  }

  // logits: (N, C), labels: (N,) class indices in [0, C) or ignore_index. Returns the loss.
  T forward(const Tensor<T>& logits, const Tensor<std::int64_t>& labels) {
    const double divisor =
        detail::check_targets("CrossEntropyLoss", "logits", logits, labels, weight_, ignore_index_, reduction_);
    dlogits_.resize_uninitialized(logits.shape());
    have_forward_ = true;
    if (weight_.empty() && smoothing_ == 0.0) return forward_plain(logits, labels, divisor);
    return forward_general(logits, labels, divisor);
  }

  // dlogits: (N, C); without weights and smoothing, (softmax(logits) - onehot(labels)) / N.
  const Tensor<T>& backward() const {
    ember::detail::check(have_forward_, "CrossEntropyLoss: backward() needs a forward() first");
    return dlogits_;
  }

  friend std::ostream& operator<<(std::ostream& out, const CrossEntropyLoss&) { return out << "CrossEntropyLoss()"; }

 private:
  // No weights, no smoothing (the default): one pass, dlogits = (softmax - onehot) / divisor.
  T forward_plain(const Tensor<T>& logits, const Tensor<std::int64_t>& labels, double divisor) {
    const index_t n = logits.size(0), c = logits.size(1);
    const std::int64_t* y = labels.data();
    double total = 0;
    const T inv_n = static_cast<T>(1.0 / divisor);
    for (index_t i = 0; i < n; ++i) {
      const T* row = logits.data() + i * c;
      T* d = dlogits_.data() + i * c;
      if (y[i] == ignore_index_) {
        std::fill_n(d, c, T(0));
        continue;
      }
      const T m = *std::max_element(row, row + c);
      T sum = 0;
      for (index_t j = 0; j < c; ++j) {
        d[j] = std::exp(row[j] - m);
        sum += d[j];
      }
      const T log_sum = std::log(sum);
      total += static_cast<double>(m + log_sum - row[y[i]]);  // -log softmax(row)[y]
      const T scale = inv_n / sum;
      for (index_t j = 0; j < c; ++j) d[j] *= scale;
      d[y[i]] -= inv_n;
    }
    return static_cast<T>(total / divisor);
  }

  // Weights and/or smoothing. A row i with target t, p = softmax(row), lp = log p, weights w
  // (all 1 when none), W = sum_c w_c:
  //   loss_i  = ((1 - eps) w_t (-lp_t) + eps / C (-sum_c w_c lp_c)) / divisor
  //   dlogit_j = a (p_j - [j == t]) + b (W p_j - w_j),  a = (1 - eps) w_t / divisor,
  //                                                     b = eps / (C divisor)
  T forward_general(const Tensor<T>& logits, const Tensor<std::int64_t>& labels, double divisor) {
    const index_t n = logits.size(0), c = logits.size(1);
    const std::int64_t* y = labels.data();
    const bool weighted = !weight_.empty();
    const double eps = smoothing_;
    double w_all = 0;
    for (index_t j = 0; j < c; ++j) w_all += weighted ? static_cast<double>(weight_[j]) : 1.0;
    const double b = eps / (static_cast<double>(c) * divisor);
    double nll = 0, smooth = 0;
    for (index_t i = 0; i < n; ++i) {
      const T* row = logits.data() + i * c;
      T* d = dlogits_.data() + i * c;
      if (y[i] == ignore_index_) {
        std::fill_n(d, c, T(0));
        continue;
      }
      const T m = *std::max_element(row, row + c);
      T sum = 0;
      for (index_t j = 0; j < c; ++j) {
        d[j] = std::exp(row[j] - m);
        sum += d[j];
      }
      const T shift = m + std::log(sum);  // lp_j = row_j - shift
      const double w_t = weighted ? static_cast<double>(weight_[y[i]]) : 1.0;
      nll += w_t * static_cast<double>(shift - row[y[i]]);
      const double a = (1.0 - eps) * w_t / divisor;
      const T pa = static_cast<T>(a + b * w_all) / sum;  // p_j = d_j / sum
      double row_smooth = 0;
      for (index_t j = 0; j < c; ++j) {
        const double w_j = weighted ? static_cast<double>(weight_[j]) : 1.0;
        row_smooth += w_j * static_cast<double>(shift - row[j]);
        d[j] = d[j] * pa - static_cast<T>(b * w_j);
      }
      d[y[i]] -= static_cast<T>(a);
      smooth += row_smooth;
    }
    return static_cast<T>(((1.0 - eps) * nll + eps / static_cast<double>(c) * smooth) / divisor);
  }

  std::vector<T> weight_;  // (C,) or empty
  std::int64_t ignore_index_;
  Reduction reduction_;
  double smoothing_;
  bool have_forward_ = false;
  Tensor<T> dlogits_;
};

}  // namespace ember::nn

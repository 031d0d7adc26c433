// nn::CrossEntropyLoss: fused log-softmax + negative log-likelihood, mean over the batch.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <ostream>

#include "ember/error.hpp"
#include "ember/tensor.hpp"

namespace ember::nn {

template <class T = float>
class CrossEntropyLoss {
 public:
  using value_type = T;

  // logits: (N, C), labels: (N,) class indices in [0, C). Returns the mean loss.
  T forward(const Tensor<T>& logits, const Tensor<std::int64_t>& labels) {
    ember::detail::check(logits.dim() == 2 && logits.size(0) > 0, "CrossEntropyLoss: expected logits of shape (N, C), got ",
                         logits.shape());
    const index_t n = logits.size(0), c = logits.size(1);
    ember::detail::check(labels.dim() == 1 && labels.size(0) == n, "CrossEntropyLoss: expected labels of shape (", n,
                         ",) to match logits ", logits.shape(), ", got ", labels.shape());
    const std::int64_t* y = labels.data();
    for (index_t i = 0; i < n; ++i)
      ember::detail::check(y[i] >= 0 && y[i] < c, "CrossEntropyLoss: label ", y[i], " at position ", i,
                           " is out of range for ", c, " classes");
    // dlogits holds softmax(logits) - onehot(labels), scaled by 1/N: the gradient of the mean.
    dlogits_.resize_uninitialized(logits.shape());
    double total = 0;
    const T inv_n = T(1) / static_cast<T>(n);
    for (index_t i = 0; i < n; ++i) {
      const T* row = logits.data() + i * c;
      T* d = dlogits_.data() + i * c;
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
    have_forward_ = true;
    return static_cast<T>(total / static_cast<double>(n));
  }

  // dlogits: (N, C) = (softmax(logits) - onehot(labels)) / N
  const Tensor<T>& backward() const {
    ember::detail::check(have_forward_, "CrossEntropyLoss: backward() needs a forward() first");
    return dlogits_;
  }

  friend std::ostream& operator<<(std::ostream& out, const CrossEntropyLoss&) { return out << "CrossEntropyLoss()"; }

 private:
  bool have_forward_ = false;
  Tensor<T> dlogits_;
};

}  // namespace ember::nn

// The one place that computes a convolution's or a pooling's output size.
#pragma once

#include "ember/tensor.hpp"

namespace ember::kernels {

// floor((in + 2 padding - dilation (kernel - 1) - 1) / stride) + 1, PyTorch's floor mode; the
// caller checks first that the (dilated) kernel fits the padded input.
constexpr index_t output_size(index_t in, index_t kernel, index_t stride, index_t padding, index_t dilation = 1) {
  return (in + 2 * padding - dilation * (kernel - 1) - 1) / stride + 1;
}

// A pooling's output size, as torch's pooling_output_shape (dilation 1): floor mode as above; in
// ceil mode the division rounds up, but the last window must start inside the input or its left
// padding, else it is dropped. The caller checks first that the kernel fits the padded input.
constexpr index_t pool_output_size(index_t in, index_t kernel, index_t stride, index_t padding, bool ceil_mode) {
  const index_t span = in + 2 * padding - kernel;
  index_t out = (ceil_mode ? (span + stride - 1) / stride : span / stride) + 1;
  if (ceil_mode && (out - 1) * stride >= in + padding) --out;
  return out;
}

}  // namespace ember::kernels

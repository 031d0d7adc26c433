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
// padding, else it is dropped. The division rounds toward -inf (torch's div_rtn): in ceil mode the
// kernel may be larger than the padded input, and the span below is then negative. The caller
// checks that the result is at least 1 (torch: "Output size is too small").
constexpr index_t pool_output_size(index_t in, index_t kernel, index_t stride, index_t padding, bool ceil_mode) {
  const index_t span = in + 2 * padding - kernel + (ceil_mode ? stride - 1 : 0);
  index_t out = (span >= 0 ? span / stride : -((stride - 1 - span) / stride)) + 1;
  if (ceil_mode && (out - 1) * stride >= in + padding) --out;
  return out;
}

}  // namespace ember::kernels

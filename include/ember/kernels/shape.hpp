// The one place that computes a convolution's or a pooling's output size.
#pragma once

#include "ember/tensor.hpp"

namespace ember::kernels {

// floor((in + 2 padding - dilation (kernel - 1) - 1) / stride) + 1, PyTorch's floor mode; the
// caller checks first that the (dilated) kernel fits the padded input.
constexpr index_t output_size(index_t in, index_t kernel, index_t stride, index_t padding, index_t dilation = 1) {
  return (in + 2 * padding - dilation * (kernel - 1) - 1) / stride + 1;
}

}  // namespace ember::kernels

// The optimizers' element-wise updates (kernels/optim_isa.hpp), on the best instruction set the
// CPU has (kernels/isa.hpp).
#pragma once

#include <algorithm>
#include <cmath>

#include "ember/kernels/isa.hpp"
#include "ember/kernels/simd.hpp"

namespace ember::kernels::operands {
// Adam's scalars, rounded to T (optim/adam.hpp): weight_decay is Adam's coupled decay or AdamW's
// factor 1 - lr * weight_decay; step_size lr / (1 - beta1^t), negated for AdamW.
template <class T>
struct AdamConstants {
  T beta1, one_minus_beta1, beta2, one_minus_beta2, weight_decay, eps, step_size, bias_correction2_sqrt;
};
}  // namespace ember::kernels::operands

namespace ember::kernels {
using operands::AdamConstants;
}  // namespace ember::kernels

#define EMBER_ISA_BODY "ember/kernels/optim_isa.hpp"
#include "ember/kernels/foreach_isa.hpp"

namespace ember::kernels {

template <bool Amsgrad, bool Decay, bool Decoupled, class T>
void adam_update(const AdamConstants<T>& c, T* p, const T* grad, T* m, T* v, T* vmax, index_t n) {
  EMBER_KERNELS_DISPATCH_CALL(adam_update<Amsgrad, Decay, Decoupled>(c, p, grad, m, v, vmax, n))
}

}  // namespace ember::kernels

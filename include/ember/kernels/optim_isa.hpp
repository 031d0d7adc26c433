// The optimizers' element-wise updates (kernels/optim.hpp), compiled once per instruction set:
// each a loop of whole packets, then the last values one at a time, in the same operations and
// order as torch's single-tensor kernel (optim/adam.hpp has the definitions).
//
// No include guard, no includes: a part of kernels/optim.hpp. No lambdas (see gemm_isa.hpp).

// Adam's and AdamW's update of n values (p, m, v, and vmax with amsgrad) from grad.
template <bool Amsgrad, bool Decay, bool Decoupled, class T>
void adam_update(const AdamConstants<T>& c, T* p, const T* grad, T* m, T* v, T* vmax, index_t n) {
  using simd::Packet;
  constexpr index_t L = simd::lanes<T>;
  const Packet<T> beta1 = simd::set1<T>(c.beta1), one_minus_beta1 = simd::set1<T>(c.one_minus_beta1),
                  beta2 = simd::set1<T>(c.beta2), one_minus_beta2 = simd::set1<T>(c.one_minus_beta2),
                  weight_decay = simd::set1<T>(c.weight_decay), eps = simd::set1<T>(c.eps),
                  step_size = simd::set1<T>(c.step_size), bias_correction2_sqrt = simd::set1<T>(c.bias_correction2_sqrt);
  index_t i = 0;
  for (; i + L <= n; i += L) {
    Packet<T> pi = simd::load(p + i), g = simd::load(grad + i);
    if constexpr (Decoupled) pi = simd::mul(pi, weight_decay);
    if constexpr (Decay && !Decoupled) g = simd::add(g, simd::mul(weight_decay, pi));
    const Packet<T> mi = simd::add(simd::mul(simd::load(m + i), beta1), simd::mul(one_minus_beta1, g));
    Packet<T> vi = simd::add(simd::mul(simd::load(v + i), beta2), simd::mul(one_minus_beta2, simd::mul(g, g)));
    simd::store(m + i, mi);
    simd::store(v + i, vi);
    if constexpr (Amsgrad) {
      vi = simd::max(simd::load(vmax + i), vi);
      simd::store(vmax + i, vi);
    }
    const Packet<T> denominator = simd::add(simd::div(simd::sqrt(vi), bias_correction2_sqrt), eps);
    if constexpr (Decoupled) pi = simd::add(pi, simd::div(simd::mul(step_size, mi), denominator));
    else pi = simd::sub(pi, simd::mul(step_size, simd::div(mi, denominator)));
    simd::store(p + i, pi);
  }
  for (; i < n; ++i) {
    T pi = p[i], g = grad[i];
    if constexpr (Decoupled) pi *= c.weight_decay;
    if constexpr (Decay && !Decoupled) g = g + c.weight_decay * pi;
    const T mi = m[i] * c.beta1 + c.one_minus_beta1 * g;
    T vi = v[i] * c.beta2 + c.one_minus_beta2 * (g * g);
    m[i] = mi;
    v[i] = vi;
    if constexpr (Amsgrad) vmax[i] = vi = std::max(vmax[i], vi);
    const T denominator = std::sqrt(vi) / c.bias_correction2_sqrt + c.eps;
    if constexpr (Decoupled) pi += (c.step_size * mi) / denominator;
    else pi -= c.step_size * (mi / denominator);
    p[i] = pi;
  }
}

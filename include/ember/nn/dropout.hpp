// nn::Dropout(p = 0.5), as torch.nn.Dropout: in train mode each element is zeroed with
// probability p and the others scaled by 1 / (1 - p); backward applies the same mask. In eval
// mode it is the identity (forward returns its input).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <ostream>
#include <type_traits>
#include <utility>

#include "ember/error.hpp"
#include "ember/nn/module.hpp"
#include "ember/random.hpp"
#include "ember/tensor.hpp"
#include "ember/threads.hpp"

namespace ember::nn {

template <class T = float>
class Dropout : public Module<T> {
 public:
  // Each call keeps its own saved state (detail::Tape): one object may be used several times.
  bool keeps_each_use() const override { return true; }
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
    // Element i is dropped when its 31-bit draw falls below p * 2^31; kept ones are scaled. The
    // draws are a counter-based stream keyed by one draw of the layer's generator (SplitMix64 of
    // key + i / 2: the top 31 bits of its low half for even i, of its high half for odd i; 31 bits
    // so that AVX2's signed compare takes them): blocks of the tensor are drawn in parallel, and
    // the mask is the same for any thread count.
    const T scale = p_ < 1 ? T(1) / static_cast<T>(1 - p_) : T(0);  // as torch: noise.div_(1 - p)
    // Below p = 1 the threshold fits 31 bits; at p = 1 the scale is 0.
    const auto threshold = static_cast<std::int32_t>(std::min(std::ldexp(p_, 31), 2147483647.0));
    const std::uint64_t key = generator_.next_u64();
    using Bits = std::conditional_t<sizeof(T) == 4, std::uint32_t, std::uint64_t>;
    static_assert(sizeof(Bits) == sizeof(T));
    Bits scale_bits;
    std::memcpy(&scale_bits, &scale, sizeof scale);
    T* mask = saved.mask.data();
    T* y = saved.y.data();
    const T* in = x.data();
    const index_t n = x.numel();
    constexpr index_t block = 256;  // elements per step: 128 draws of 64 bits
    // Elements [first, first + count), count <= block; by value, so no store can alias what it reads.
    const auto fill = [=](index_t first, index_t count) {
      std::int32_t draws[block];
      const auto pair0 = static_cast<std::uint64_t>(first / 2);  // first is even
      for (index_t k = 0; k < block / 2; ++k) {
        const std::uint64_t bits = splitmix64(key + (pair0 + static_cast<std::uint64_t>(k)) * 0x9e3779b97f4a7c15u);
        draws[2 * k] = static_cast<std::int32_t>((bits & 0xffffffffu) >> 1);
        draws[2 * k + 1] = static_cast<std::int32_t>(bits >> 33);
      }
      // scale or 0, selected by an integer mask of its bits (a ?: or a product by the bool
      // compiles to an unpredictable branch per element without AVX-512); p = 1: scale is 0.
      T m[block];
      Bits m_bits[block];
      for (index_t k = 0; k < block; ++k) m_bits[k] = scale_bits & (Bits{0} - static_cast<Bits>(draws[k] >= threshold));
      std::memcpy(m, m_bits, sizeof m);
      for (index_t k = 0; k < count; ++k) mask[first + k] = m[k];
      for (index_t k = 0; k < count; ++k) y[first + k] = in[first + k] * m[k];
    };
    const index_t whole = n / block;
    ember::detail::parallel_blocks(whole, 32, n * 8, [&](index_t begin, index_t end) {
      for (index_t b = begin; b < end; ++b) fill(b * block, block);
    });
    if (n % block) fill(whole * block, n % block);
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
  // SplitMix64's output function (Steele, Lea and Flood, 2014): a counter through it is a
  // stream that passes BigCrush.
  static std::uint64_t splitmix64(std::uint64_t z) {
    z += 0x9e3779b97f4a7c15u;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
  }

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

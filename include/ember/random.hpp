// The seeded generator behind every random choice ember makes (initialisation, shuffling),
// and PyTorch's default initialisers.
#pragma once

#include <cmath>
#include <cstdint>
#include <locale>
#include <random>
#include <sstream>
#include <string>

#include "ember/error.hpp"
#include "ember/tensor.hpp"

namespace ember {

// mt19937_64 with ember's own uniform mapping, so a seed gives the same numbers with every
// standard library (std::uniform_real_distribution is not specified bit for bit).
class Generator {
 public:
  explicit Generator(std::uint64_t seed = default_seed) : engine_(seed) {}
  static constexpr std::uint64_t default_seed = 5489u;

  void seed(std::uint64_t s) { engine_.seed(s); }
  std::uint64_t next_u64() { return engine_(); }
  // Uniform in [0, 1) with 53 random bits.
  double uniform() { return static_cast<double>(engine_() >> 11) * 0x1.0p-53; }
  double uniform(double low, double high) { return low + (high - low) * uniform(); }
  // Uniform integer in [0, n), without modulo bias.
  std::uint64_t below(std::uint64_t n) {
    const std::uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    std::uint64_t r;
    do r = engine_(); while (r >= limit);
    return r % n;
  }
  // Standard normal (Box-Muller), for tests and examples.
  double normal() {
    double u1;
    do u1 = uniform(); while (u1 <= 0.0);
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * uniform());
  }

  const std::mt19937_64& engine() const { return engine_; }
  std::mt19937_64& engine() { return engine_; }

  // The engine's state as the standard's text form (312 words and a position), and back: a
  // generator given the state of another draws the same numbers from then on.
  std::string state() const {
    std::ostringstream out;
    out.imbue(std::locale::classic());  // no digit grouping, whatever the global locale
    out << engine_;
    return out.str();
  }
  void set_state(const std::string& state) {
    std::istringstream in(state);
    in.imbue(std::locale::classic());
    std::mt19937_64 engine;
    in >> engine;
    ember::detail::check(!in.fail() && (in >> std::ws).eof(), "Generator: not an mt19937_64 state: \"",
                         state.substr(0, 40), state.size() > 40 ? "...\"" : "\"");
    engine_ = engine;
  }

 private:
  std::mt19937_64 engine_;
};

// The global generator layers draw their initial weights from, as torch's default generator.
inline Generator& default_generator() {
  static Generator g;
  return g;
}
inline void manual_seed(std::uint64_t seed) { default_generator().seed(seed); }

namespace init {

// Fills t with U(low, high).
template <class T>
void uniform_(Tensor<T>& t, double low, double high, Generator& g = default_generator()) {
  T* p = t.data();
  for (index_t i = 0; i < t.numel(); ++i) p[i] = static_cast<T>(g.uniform(low, high));
}

// fan_in of a weight laid out as PyTorch's: (out, in) or (out, in, kh, kw).
template <class T>
index_t fan_in(const Tensor<T>& weight) {
  return weight.dim() < 2 ? weight.numel() : weight.numel() / weight.size(0);
}

// torch.nn.init.kaiming_uniform_(w, a=sqrt(5)), the default of Linear and Conv2d:
// bound = gain * sqrt(3 / fan_in) with gain = sqrt(2 / (1 + a^2)), i.e. 1 / sqrt(fan_in).
template <class T>
void kaiming_uniform_(Tensor<T>& weight, double a = std::sqrt(5.0), Generator& g = default_generator()) {
  const double gain = std::sqrt(2.0 / (1.0 + a * a));
  const double bound = gain * std::sqrt(3.0 / static_cast<double>(fan_in(weight)));
  uniform_(weight, -bound, bound, g);
}

}  // namespace init
}  // namespace ember

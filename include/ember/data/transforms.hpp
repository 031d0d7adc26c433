// Augmentation for the DataLoader, as torchvision 0.14's transforms on a [0, 1] image tensor:
//   data::RandomAffine(degrees, {.translate, .scale})  torchvision.transforms.RandomAffine
//       (interpolation nearest, fill 0, rotation about the image centre, no shear)
//   data::RandomCrop(size, padding)                     torchvision.transforms.RandomCrop
//       (zero padding on every side, then a crop at a uniform offset)
// A dataset lists them in `transforms`, in the order torchvision's Compose would run them; the
// loader applies them per sample, then the dataset's Normalize (torchvision's
// Compose([RandomAffine(..), ToTensor(), Normalize(..)]): nearest interpolation with fill 0 only
// moves pixel values, so warping the bytes before ToTensor/Normalize gives the same floats).
// Parameters are drawn from a generator the loader derives from its own per epoch and per sample
// (DataLoader::begin): torch's RNG cannot be matched, so the tests check the geometry for fixed
// parameters against torchvision and the draws' ranges.
#pragma once

#include <array>
#include <cmath>
#include <cstdint>
#include <variant>

#include "ember/error.hpp"
#include "ember/tensor.hpp"

namespace ember::data {

// A sample's generator: splitmix64 on (epoch seed, sample position), so that batch b of an
// epoch draws the same parameters however the batches are visited.
class SampleGenerator {
 public:
  SampleGenerator(std::uint64_t epoch_seed, std::uint64_t position)
      : state_(epoch_seed ^ (position * 0xd1b54a32d192ed03ull)) {}
  std::uint64_t next_u64() {
    std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  // Uniform in [0, 1) with 53 random bits, and in [low, high).
  double uniform() { return static_cast<double>(next_u64() >> 11) * 0x1.0p-53; }
  double uniform(double low, double high) { return low + (high - low) * uniform(); }
  // Uniform integer in [0, n), without modulo bias.
  std::uint64_t below(std::uint64_t n) {
    const std::uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    std::uint64_t r;
    do r = next_u64(); while (r >= limit);
    return r % n;
  }

 private:
  std::uint64_t state_;
};

// The shape of one image: channels, height, width.
struct ImageSize {
  index_t c, h, w;
  bool operator==(const ImageSize&) const = default;
};

struct RandomAffineOptions {
  std::array<double, 2> translate = {0, 0};  // max |tx| / width, max |ty| / height; torch's None: {0, 0}
  std::array<double, 2> scale = {1, 1};      // scale drawn in [scale[0], scale[1]]; torch's None: {1, 1}
};

class RandomAffine {
 public:
  // What get_params draws, in its order: the angle in degrees (counter-clockwise, torchvision's
  // sign), the translation in whole pixels, the scale.
  struct Params {
    double angle = 0;
    index_t tx = 0, ty = 0;
    double scale = 1;
  };

  // degrees d: the angle is drawn from [-d, d]; or a range {lo, hi}.
  explicit RandomAffine(double degrees, const RandomAffineOptions& options = {})
      : RandomAffine(symmetric(degrees), options) {}
  RandomAffine(std::array<double, 2> degrees, const RandomAffineOptions& options = {})
      : degrees_(degrees), options_(options) {
    ember::detail::check(degrees[0] <= degrees[1], "RandomAffine: degrees (", degrees[0], ", ", degrees[1],
                         ") must be a range low <= high");
    for (double t : options.translate)
      ember::detail::check(t >= 0 && t <= 1, "RandomAffine: translate values must be in [0, 1], got ", t);
    ember::detail::check(options.scale[0] > 0 && options.scale[0] <= options.scale[1], "RandomAffine: scale (",
                         options.scale[0], ", ", options.scale[1], ") must be a range 0 < low <= high");
  }

  const std::array<double, 2>& degrees() const { return degrees_; }
  const RandomAffineOptions& options() const { return options_; }
  ImageSize output_size(const ImageSize& in) const { return in; }

  // torchvision's get_params: angle, then tx and ty (rounded half to even, Python's round), then scale.
  template <class G>
  Params get_params(G& g, const ImageSize& in) const {
    Params p;
    p.angle = static_cast<float>(g.uniform(degrees_[0], degrees_[1]));  // torch draws a float32
    const double max_dx = options_.translate[0] * static_cast<double>(in.w);
    const double max_dy = options_.translate[1] * static_cast<double>(in.h);
    p.tx = static_cast<index_t>(std::nearbyint(static_cast<float>(g.uniform(-max_dx, max_dx))));
    p.ty = static_cast<index_t>(std::nearbyint(static_cast<float>(g.uniform(-max_dy, max_dy))));
    p.scale = static_cast<float>(g.uniform(options_.scale[0], options_.scale[1]));
    return p;
  }

  // torchvision.transforms.functional.affine(img, angle, [tx, ty], scale, [0, 0], NEAREST, fill 0)
  // on a tensor: the inverse affine matrix about the centre (_get_inverse_affine_matrix, in
  // double), then the sampling grid and grid_sample's unnormalisation in float32 as torchvision
  // computes them (_gen_affine_grid, align_corners=False), the nearest source pixel by rounding
  // half to even, zero outside. src and dst: (C, H, W), distinct.
  template <class V>
  static void apply(const V* src, V* dst, const ImageSize& s, const Params& p) {
    const double rot = p.angle * 3.14159265358979323846 / 180.0;
    // _get_inverse_affine_matrix with centre (0, 0) (the image centre in F_t's coordinates), no shear
    const double a = std::cos(rot), b = -std::sin(rot), c = std::sin(rot), d = std::cos(rot);
    double m[6] = {d / p.scale, -b / p.scale, 0.0, -c / p.scale, a / p.scale, 0.0};
    const double tx = static_cast<double>(p.tx), ty = static_cast<double>(p.ty);
    m[2] += m[0] * (-tx) + m[1] * (-ty);
    m[5] += m[3] * (-tx) + m[4] * (-ty);
    // theta in float32, divided by (w/2, h/2): the grid's rescaled_theta
    const float half_w = static_cast<float>(0.5 * static_cast<double>(s.w));
    const float half_h = static_cast<float>(0.5 * static_cast<double>(s.h));
    float r[6];
    for (int i = 0; i < 3; ++i) {
      r[i] = static_cast<float>(m[i]) / half_w;
      r[3 + i] = static_cast<float>(m[3 + i]) / half_h;
    }
    const float fw = static_cast<float>(s.w), fh = static_cast<float>(s.h);
    const index_t plane = s.h * s.w;
    for (index_t y = 0; y < s.h; ++y) {
      const float by = -fh * 0.5f + 0.5f + static_cast<float>(y);  // linspace(-h/2 + 0.5, h/2 - 0.5, h)
      for (index_t x = 0; x < s.w; ++x) {
        const float bx = -fw * 0.5f + 0.5f + static_cast<float>(x);
        const float gx = bx * r[0] + by * r[1] + r[2];
        const float gy = bx * r[3] + by * r[4] + r[5];
        const float ix = std::nearbyint(((gx + 1.0f) * fw - 1.0f) / 2.0f);
        const float iy = std::nearbyint(((gy + 1.0f) * fh - 1.0f) / 2.0f);
        const bool inside = ix >= 0.0f && ix < fw && iy >= 0.0f && iy < fh;
        const index_t from = inside ? static_cast<index_t>(iy) * s.w + static_cast<index_t>(ix) : 0;
        for (index_t ch = 0; ch < s.c; ++ch) dst[ch * plane + y * s.w + x] = inside ? src[ch * plane + from] : V(0);
      }
    }
  }

  template <class G, class V>
  void operator()(G& g, const V* src, V* dst, const ImageSize& s) const {
    apply(src, dst, s, get_params(g, s));
  }

 private:
  static std::array<double, 2> symmetric(double degrees) {
    ember::detail::check(degrees >= 0, "RandomAffine: degrees must be >= 0, got ", degrees);
    return {-degrees, degrees};
  }

  std::array<double, 2> degrees_;
  RandomAffineOptions options_;
};

class RandomCrop {
 public:
  struct Params {
    index_t top = 0, left = 0;  // in the padded image
  };

  // size: the output's height and width (one number: square); padding: zeros added on every side
  // first.
  RandomCrop(index_t size, index_t padding = 0) : RandomCrop({size, size}, padding) {}
  RandomCrop(std::array<index_t, 2> size, index_t padding = 0) : size_(size), padding_(padding) {
    ember::detail::check(size[0] > 0 && size[1] > 0, "RandomCrop: size must be positive, got (", size[0], ", ",
                         size[1], ")");
    ember::detail::check(padding >= 0, "RandomCrop: padding must be >= 0, got ", padding);
  }

  const std::array<index_t, 2>& size() const { return size_; }
  index_t padding() const { return padding_; }

  ImageSize output_size(const ImageSize& in) const {
    const index_t h = in.h + 2 * padding_, w = in.w + 2 * padding_;
    ember::detail::check(h >= size_[0] && w >= size_[1], "RandomCrop: required crop size (", size_[0], ", ",
                         size_[1], ") is larger than the padded image (", h, ", ", w, ")");
    return {in.c, size_[0], size_[1]};
  }

  // torchvision's get_params: top in [0, H + 2p - th], then left in [0, W + 2p - tw] (no draw
  // when the padded image already has the crop's size).
  template <class G>
  Params get_params(G& g, const ImageSize& in) const {
    const index_t h = in.h + 2 * padding_, w = in.w + 2 * padding_;
    if (h == size_[0] && w == size_[1]) return {};
    Params p;
    p.top = static_cast<index_t>(g.below(static_cast<std::uint64_t>(h - size_[0] + 1)));
    p.left = static_cast<index_t>(g.below(static_cast<std::uint64_t>(w - size_[1] + 1)));
    return p;
  }

  // F.crop(F.pad(img, padding, fill=0), top, left, th, tw), without building the padded image.
  // src: (C, H, W) s; dst: (C, th, tw).
  template <class V>
  void apply(const V* src, V* dst, const ImageSize& s, const Params& p) const {
    const index_t th = size_[0], tw = size_[1];
    for (index_t ch = 0; ch < s.c; ++ch)
      for (index_t y = 0; y < th; ++y) {
        const index_t sy = p.top + y - padding_;
        V* out = dst + (ch * th + y) * tw;
        for (index_t x = 0; x < tw; ++x) {
          const index_t sx = p.left + x - padding_;
          out[x] = sy >= 0 && sy < s.h && sx >= 0 && sx < s.w ? src[(ch * s.h + sy) * s.w + sx] : V(0);
        }
      }
  }

  template <class G, class V>
  void operator()(G& g, const V* src, V* dst, const ImageSize& s) const {
    apply(src, dst, s, get_params(g, s));
  }

 private:
  std::array<index_t, 2> size_;
  index_t padding_;
};

// One step of a dataset's `transforms`.
using Transform = std::variant<RandomAffine, RandomCrop>;

inline ImageSize output_size(const Transform& t, const ImageSize& in) {
  return std::visit([&](const auto& x) { return x.output_size(in); }, t);
}

}  // namespace ember::data

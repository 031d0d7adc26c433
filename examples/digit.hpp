// A photo or a drawing of a digit, prepared the way the MNIST digits were made (LeCun et al.):
// grey; dark ink on light paper inverted to MNIST's light ink on dark; cropped to the ink; scaled
// to fit a 20x20 box keeping the aspect ratio (area averaging, which anti-aliases as the NIST
// scans were); placed in a 28x28 field with the ink's centre of mass at the centre. Used by
// predict.cpp; needs nothing but the standard library.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace digit {

struct Grey {
  int width = 0, height = 0;
  std::vector<float> pixels;  // pixels: (height, width), 0 (black) .. 255 (white)
  float at(int x, int y) const { return pixels[static_cast<std::size_t>(y) * static_cast<std::size_t>(width) + static_cast<std::size_t>(x)]; }
};

// The median of the image's outermost rows and columns: the paper's shade.
inline float border_median(const Grey& g) {
  std::vector<float> border;
  for (int x = 0; x < g.width; ++x) border.insert(border.end(), {g.at(x, 0), g.at(x, g.height - 1)});
  for (int y = 0; y < g.height; ++y) border.insert(border.end(), {g.at(0, y), g.at(g.width - 1, y)});
  std::nth_element(border.begin(), border.begin() + static_cast<std::ptrdiff_t>(border.size() / 2), border.end());
  return border[border.size() / 2];
}

// Ink as 0 (paper) .. 1 (full ink): inverted when the paper is lighter than mid-grey, then
// stretched so the paper's shade is 0 and the strongest ink 1.
inline Grey ink_of(const Grey& g) {
  const float paper = border_median(g);
  const bool light_paper = paper > 127.5f;
  Grey ink = g;
  float strongest = 0;
  for (float& v : ink.pixels) {
    v = light_paper ? paper - v : v - paper;
    strongest = std::max(strongest, v);
  }
  if (strongest <= 0) throw std::runtime_error("no ink: the image is one shade");
  for (float& v : ink.pixels) v = std::clamp(v / strongest, 0.0f, 1.0f);
  return ink;
}

// Area-average resampling of `src` (w, h) to (nw, nh): each output pixel is the mean of the part
// of the source it covers, fractional pixels weighted by their overlap.
inline Grey resize_area(const Grey& src, int nw, int nh) {
  Grey out{nw, nh, std::vector<float>(static_cast<std::size_t>(nw) * static_cast<std::size_t>(nh), 0.0f)};
  const double sx = static_cast<double>(src.width) / nw, sy = static_cast<double>(src.height) / nh;
  for (int oy = 0; oy < nh; ++oy) {
    const double y0 = oy * sy, y1 = (oy + 1) * sy;
    for (int ox = 0; ox < nw; ++ox) {
      const double x0 = ox * sx, x1 = (ox + 1) * sx;
      double sum = 0;
      for (int y = static_cast<int>(y0); y < std::min<double>(y1, src.height); ++y) {
        const double wy = std::min<double>(y + 1, y1) - std::max<double>(y, y0);
        for (int x = static_cast<int>(x0); x < std::min<double>(x1, src.width); ++x) {
          const double wx = std::min<double>(x + 1, x1) - std::max<double>(x, x0);
          sum += wx * wy * src.at(x, y);
        }
      }
      out.pixels[static_cast<std::size_t>(oy) * static_cast<std::size_t>(nw) + static_cast<std::size_t>(ox)] =
          static_cast<float>(sum / (sx * sy));
    }
  }
  return out;
}

// The 28x28 MNIST-like image of a grey picture, in [0, 1] (1: ink), row-major.
inline std::vector<float> to_mnist(const Grey& picture, float ink_threshold = 0.15f) {
  if (picture.width < 1 || picture.height < 1) throw std::runtime_error("the image is empty");
  const Grey ink = ink_of(picture);
  // The bounding box of the ink (pixels above the threshold: paper noise stays out of it).
  int left = ink.width, right = -1, top = ink.height, bottom = -1;
  for (int y = 0; y < ink.height; ++y)
    for (int x = 0; x < ink.width; ++x)
      if (ink.at(x, y) > ink_threshold) {
        left = std::min(left, x), right = std::max(right, x);
        top = std::min(top, y), bottom = std::max(bottom, y);
      }
  Grey crop{right - left + 1, bottom - top + 1, {}};
  for (int y = top; y <= bottom; ++y)
    for (int x = left; x <= right; ++x) crop.pixels.push_back(ink.at(x, y));
  // Fit 20x20 keeping the aspect ratio.
  const double scale = 20.0 / std::max(crop.width, crop.height);
  const int nw = std::clamp(static_cast<int>(std::lround(crop.width * scale)), 1, 20);
  const int nh = std::clamp(static_cast<int>(std::lround(crop.height * scale)), 1, 20);
  const Grey box = resize_area(crop, nw, nh);
  // The centre of mass (pixel centres at i + 0.5) goes to the field's centre, (14, 14).
  double mass = 0, cx = 0, cy = 0;
  for (int y = 0; y < nh; ++y)
    for (int x = 0; x < nw; ++x) {
      const double v = box.at(x, y);
      mass += v, cx += v * (x + 0.5), cy += v * (y + 0.5);
    }
  const int dx = static_cast<int>(std::lround(14.0 - cx / mass)), dy = static_cast<int>(std::lround(14.0 - cy / mass));
  std::vector<float> field(28 * 28, 0.0f);
  for (int y = 0; y < nh; ++y)
    for (int x = 0; x < nw; ++x) {
      const int fx = x + dx, fy = y + dy;
      if (fx >= 0 && fx < 28 && fy >= 0 && fy < 28) field[static_cast<std::size_t>(fy * 28 + fx)] = box.at(x, y);
    }
  return field;
}

}  // namespace digit

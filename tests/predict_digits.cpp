// Writes the first 25 MNIST test digits as pictures for the predict example's test
// (tests/predict.sh): DIR/mnist/NN_L.png as MNIST has them (light ink on black, 28x28), and
// DIR/canvas/NN_L.png drawn as a person would: dark ink on light, slightly uneven paper, 1.5 times
// larger, off-centre on a 64x48 canvas. L is the label. Usage: predict_digits MNIST_DIR DIR
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb/stb_image_write.h>

#include <ember/ember.hpp>

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: predict_digits MNIST_DIR OUT_DIR\n");
    return 2;
  }
  try {
    const auto test = ember::data::Mnist::load(argv[1], ember::data::Split::test);
    const std::filesystem::path out = argv[2];
    std::filesystem::create_directories(out / "mnist");
    std::filesystem::create_directories(out / "canvas");
    for (int i = 0; i < 25; ++i) {
      const std::uint8_t* px = test.pixels.data() + i * 28 * 28;  // px: (28, 28)
      char name[32];
      std::snprintf(name, sizeof name, "%02d_%d.png", i, test.labels[static_cast<std::size_t>(i)]);
      if (!stbi_write_png((out / "mnist" / name).c_str(), 28, 28, 1, px, 28)) return 1;

      constexpr int W = 64, H = 48;
      std::vector<std::uint8_t> canvas(W * H);  // canvas: (H, W)
      const int left = 4 + 3 * (i % 5), top = 1 + i % 4;  // the digit's 42x42 box, off-centre
      for (int y = 0; y < H; ++y)
        for (int x = 0; x < W; ++x) {
          const double paper = 222 + (x * 7 + y * 13) % 17;  // uneven light paper
          // The digit scaled by 1.5 (bilinear), as ink from 0 (none) to 1.
          const double sx = (x - left + 0.5) / 1.5 - 0.5, sy = (y - top + 0.5) / 1.5 - 0.5;
          double ink = 0;
          if (sx > -1 && sx < 28 && sy > -1 && sy < 28) {
            const int x0 = static_cast<int>(std::floor(sx)), y0 = static_cast<int>(std::floor(sy));
            const double fx = sx - x0, fy = sy - y0;
            const auto p = [&](int xx, int yy) { return xx < 0 || yy < 0 || xx > 27 || yy > 27 ? 0.0 : px[yy * 28 + xx] / 255.0; };
            ink = (1 - fy) * ((1 - fx) * p(x0, y0) + fx * p(x0 + 1, y0)) + fy * ((1 - fx) * p(x0, y0 + 1) + fx * p(x0 + 1, y0 + 1));
          }
          canvas[y * W + x] = static_cast<std::uint8_t>(paper - ink * (paper - 30) + 0.5);  // dark ink: 30
        }
      if (!stbi_write_png((out / "canvas" / name).c_str(), W, H, 1, canvas.data(), W)) return 1;
    }
  } catch (const ember::Error& e) {
    std::fprintf(stderr, "predict_digits: error: %s\n", e.what());
    return 1;
  }
}

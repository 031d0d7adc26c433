// Classifies your own digits with a model trained by mnist_mlp --save or mnist_cnn --save:
//
//   build/examples/predict --weights cnn.safetensors my_seven.png photo.jpg
//   my_seven.png: 7 (98.2%), 1 (1.1%), 2 (0.4%)
//
// The weights file's metadata names the model (the examples record it), so no flag describes it.
// Each picture (PNG, JPEG, BMP, ... through stb_image, Debian libstb-dev) is prepared as the
// MNIST digits were made (digit.hpp), then given the training Normalize.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <numeric>
#include <stdexcept>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#define STB_IMAGE_IMPLEMENTATION
#define STBI_FAILURE_USERMSG
#include <stb/stb_image.h>

#include <ember/ember.hpp>
#include <ember/io.hpp>

#include "digit.hpp"
#include "models.hpp"

using namespace ember;

namespace {

// A picture as grey on white: a transparent background (a drawing) counts as white paper.
digit::Grey read_picture(const std::string& path) {
  if (!std::filesystem::is_regular_file(path)) throw std::runtime_error("no such file");
  int width = 0, height = 0, channels = 0;
  stbi_uc* data = stbi_load(path.c_str(), &width, &height, &channels, 2);  // grey + alpha
  if (!data) throw std::runtime_error(std::string("not an image stb_image can read (") + stbi_failure_reason() + ")");
  digit::Grey g{width, height, std::vector<float>(static_cast<std::size_t>(width) * static_cast<std::size_t>(height))};
  for (std::size_t i = 0; i < g.pixels.size(); ++i) {
    const float grey = data[2 * i], alpha = data[2 * i + 1] / 255.0f;
    g.pixels[i] = alpha * grey + (1 - alpha) * 255;
  }
  stbi_image_free(data);
  return g;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Classify pictures of digits with a model saved by mnist_mlp --save or mnist_cnn --save", "predict"};
  std::string weights;
  std::vector<std::string> images;
  app.add_option("--weights", weights, "safetensors file written by mnist_mlp --save or mnist_cnn --save")
      ->required()
      ->check(CLI::ExistingFile);
  app.add_option("images", images, "pictures of one digit each (PNG, JPEG, BMP, GIF, ...)")->required();
  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "predict: error: %s (run with --help for the flags)\n", e.what());
    return 2;
  }

  std::unique_ptr<nn::Module<float>> model;
  data::Normalize normalize;
  try {
    const auto metadata = io::load_metadata(weights);
    model = make_model(metadata);
    io::load(*model, weights);
    normalize = model_normalize(metadata);
  } catch (const Error& e) {
    std::fprintf(stderr, "predict: error: %s: %s\n", weights.c_str(), e.what());
    return 1;
  }
  model->eval();

  int failures = 0;
  Tensor<float> x({1, 1, 28, 28});  // x: (1, 1, 28, 28)
  for (const std::string& path : images) {
    std::vector<float> pixels;
    try {
      pixels = digit::to_mnist(read_picture(path));
    } catch (const std::exception& e) {
      std::fprintf(stderr, "predict: error: %s: %s\n", path.c_str(), e.what());
      ++failures;
      continue;
    }
    for (std::size_t i = 0; i < pixels.size(); ++i) {
      float v = pixels[i];
      if (!normalize.mean.empty()) v = static_cast<float>((v - normalize.mean[0]) / normalize.std[0]);
      x.data()[i] = v;
    }
    const Tensor<float>& logits = (*model)(x);  // logits: (1, 10)
    // Softmax, then the three most probable classes.
    const float top = *std::max_element(logits.data(), logits.data() + 10);
    std::vector<double> p(10);
    for (int c = 0; c < 10; ++c) p[c] = std::exp(static_cast<double>(logits.data()[c] - top));
    const double sum = std::accumulate(p.begin(), p.end(), 0.0);
    std::vector<int> order(10);
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return p[a] > p[b]; });
    std::printf("%s: %d (%.1f%%), %d (%.1f%%), %d (%.1f%%)\n", path.c_str(), order[0], 100 * p[order[0]] / sum, order[1],
                100 * p[order[1]] / sum, order[2], 100 * p[order[2]] / sum);
  }
  return failures == 0 ? 0 : 1;
}

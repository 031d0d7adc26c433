// data::ImageDataset: images kept as bytes (MNIST: 47 MB, not 188 MB as floats) with their
// integer labels. The DataLoader converts one batch at a time.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ember/tensor.hpp"

namespace ember::data {

enum class Split { train, test };

struct ImageDataset {
  std::string name;                  // e.g. "MNIST train", for messages
  index_t channels = 1, height = 0, width = 0;
  std::vector<std::uint8_t> pixels;  // pixels: (N, C, H, W), 0..255
  std::vector<std::uint8_t> labels;  // labels: (N,)

  index_t size() const { return static_cast<index_t>(labels.size()); }
  index_t image_numel() const { return channels * height * width; }
  Shape image_shape() const { return {channels, height, width}; }
};

}  // namespace ember::data

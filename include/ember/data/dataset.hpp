// data::ImageDataset: images kept as bytes (MNIST: 47 MB, not 188 MB as floats) with their
// integer labels. The DataLoader converts one batch at a time.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ember/data/transforms.hpp"
#include "ember/tensor.hpp"

namespace ember::data {

enum class Split { train, test };

// transforms.Normalize(mean, std) after ToTensor(): channel c becomes (x - mean[c]) / std[c],
// computed in the loader's scalar as torchvision computes it. One value serves every channel;
// both empty (the default): no normalisation.
struct Normalize {
  std::vector<double> mean, std;
};

struct ImageDataset {
  std::string name;                  // e.g. "MNIST train", for messages
  index_t channels = 1, height = 0, width = 0;
  std::vector<std::uint8_t> pixels;  // pixels: (N, C, H, W), 0..255
  std::vector<std::uint8_t> labels;  // labels: (N,)
  Normalize normalize;               // applied by the DataLoader, e.g. {{0.1307}, {0.3081}} for MNIST
  // Augmentation, applied by the DataLoader per sample, in order, before Normalize (torchvision's
  // Compose order), e.g. {data::RandomAffine(10, {.translate = {0.1, 0.1}})}. Empty by default.
  std::vector<Transform> transforms;

  index_t size() const { return static_cast<index_t>(labels.size()); }
  index_t image_numel() const { return channels * height * width; }
  Shape image_shape() const { return {channels, height, width}; }
};

}  // namespace ember::data

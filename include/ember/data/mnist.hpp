// data::Mnist and data::FashionMnist: the four IDX files, in either spelling
// (train-images-idx3-ubyte or train-images.idx3-ubyte), raw or gzipped.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "ember/data/dataset.hpp"
#include "ember/data/idx.hpp"
#include "ember/error.hpp"

namespace ember::data {

namespace detail {

// The first of the accepted spellings of `stem-kind` (e.g. "train-images", "idx3") in dir.
inline std::string find_idx_file(const std::string& dir, const std::string& stem, const std::string& kind,
                                 const std::string& dataset) {
  const std::vector<std::string> names = {stem + "-" + kind + "-ubyte", stem + "." + kind + "-ubyte",
                                          stem + "-" + kind + "-ubyte.gz", stem + "." + kind + "-ubyte.gz"};
  for (const auto& n : names) {
    const auto p = std::filesystem::path(dir) / n;
    if (std::filesystem::is_regular_file(p)) return p.string();
  }
  throw Error(ember::detail::concat(dataset, ": no ", stem, " file in '", dir, "' (looked for ", names[0], ", ",
                                    names[1], " and their .gz); point --data or MNIST_DIR at the folder that holds "
                                              "the four IDX files, or run scripts/download_mnist.sh"));
}

inline ImageDataset load_idx_pair(const std::string& dir, Split split, const std::string& dataset) {
  const std::string prefix = split == Split::train ? "train" : "t10k";
  const std::string images_path = find_idx_file(dir, prefix + "-images", "idx3", dataset);
  const std::string labels_path = find_idx_file(dir, prefix + "-labels", "idx1", dataset);
  IdxArray images = read_idx(images_path);
  IdxArray labels = read_idx(labels_path);
  ember::detail::check(images.type == IdxType::u8 && images.dims.size() == 3, images_path,
                       ": expected u8 images of shape (N, H, W), got ", idx_type_name(images.type), " with ",
                       images.dims.size(), " dimensions");
  ember::detail::check(labels.type == IdxType::u8 && labels.dims.size() == 1, labels_path,
                       ": expected u8 labels of shape (N,), got ", idx_type_name(labels.type), " with ",
                       labels.dims.size(), " dimensions");
  ember::detail::check(images.dims[0] == labels.dims[0], dataset, ": ", images_path, " holds ", images.dims[0],
                       " images but ", labels_path, " holds ", labels.dims[0], " labels");
  for (std::size_t i = 0; i < labels.bytes.size(); ++i)
    ember::detail::check(labels.bytes[i] < 10, labels_path, ": label ", int{labels.bytes[i]}, " at position ", i,
                         " is not a digit class 0-9");
  ImageDataset ds;
  ds.name = dataset + (split == Split::train ? " train" : " test");
  ds.channels = 1;
  ds.height = images.dims[1];
  ds.width = images.dims[2];
  ds.pixels = std::move(images.bytes);
  ds.labels = std::move(labels.bytes);
  return ds;
}

}  // namespace detail

// Where to look for MNIST: the explicit path if given, else $MNIST_DIR, else data/mnist.
inline std::string mnist_dir(const std::string& explicit_path = "") {
  if (!explicit_path.empty()) return explicit_path;
  if (const char* env = std::getenv("MNIST_DIR"); env && *env) return env;
  return "data/mnist";
}

struct Mnist {
  // Images (N, 1, 28, 28) as bytes (the DataLoader scales them to [0, 1] like ToTensor()),
  // labels 0-9. split: Split::train (60,000) or Split::test (10,000).
  static ImageDataset load(const std::string& dir, Split split) { return detail::load_idx_pair(dir, split, "MNIST"); }
};

struct FashionMnist {
  static constexpr const char* debian_dir = "/usr/share/datasets/fashion-mnist";  // apt-get install dataset-fashion-mnist
  static ImageDataset load(const std::string& dir, Split split) {
    return detail::load_idx_pair(dir, split, "Fashion-MNIST");
  }
};

}  // namespace ember::data

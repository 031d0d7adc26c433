// data::DataLoader: batches of a dataset, shuffled per epoch from a seed, as
// torch.utils.data.DataLoader. `for (const auto& [images, labels] : loader)`.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <string>
#include <vector>

#include "ember/data/dataset.hpp"
#include "ember/error.hpp"
#include "ember/random.hpp"
#include "ember/tensor.hpp"

namespace ember::data {

// Why `order` is not a permutation of the sample indices 0..n-1; empty when it is.
inline std::string order_problem(const std::vector<index_t>& order, std::size_t n) {
  if (order.size() != n) return ember::detail::concat("got ", order.size(), " indices for ", n, " samples");
  std::vector<bool> seen(n, false);
  for (const index_t s : order) {
    if (s < 0 || s >= static_cast<index_t>(n))
      return ember::detail::concat("needs each sample index 0..", n - 1, " once; got ", s, ", out of range");
    if (seen[static_cast<std::size_t>(s)])
      return ember::detail::concat("needs each sample index 0..", n - 1, " once; got ", s, " twice");
    seen[static_cast<std::size_t>(s)] = true;
  }
  return {};
}

struct DataLoaderOptions {
  index_t batch_size = 1;
  bool shuffle = false;
  std::uint64_t seed = 0;   // the shuffle generator's seed: same seed, same order of epochs
  bool drop_last = false;   // false keeps the last partial batch, as PyTorch does
};

template <class T = float>
class DataLoader {
 public:
  struct Batch {
    Tensor<T> images;               // images: (B, C, H, W) in [0, 1], then the dataset's Normalize
    Tensor<std::int64_t> labels;    // labels: (B,)
  };

  // The loader keeps a reference: the dataset must outlive it.
  DataLoader(const ImageDataset& dataset, const DataLoaderOptions& options = {})
      : dataset_(&dataset), options_(options), generator_(options.seed) {
    ember::detail::check(options.batch_size > 0, "DataLoader: batch_size must be positive, got ", options.batch_size);
    ember::detail::check(dataset.size() > 0, "DataLoader: the dataset '", dataset.name, "' is empty");
    check_dataset(dataset);
    order_.resize(static_cast<std::size_t>(dataset.size()));
    std::iota(order_.begin(), order_.end(), index_t{0});
    make_table();
  }

  // Batches per epoch: 938 for 60,000 samples at batch 64 (937 with drop_last).
  index_t size() const {
    const index_t n = dataset_->size(), b = options_.batch_size;
    return options_.drop_last ? n / b : (n + b - 1) / b;
  }
  const DataLoaderOptions& options() const { return options_; }
  Generator& generator() { return generator_; }
  // The sample order of the current epoch (the next epoch shuffles it again), and setting it,
  // with generator().set_state(), to resume a run (io::load_checkpoint does both).
  const std::vector<index_t>& order() const { return order_; }
  void set_order(const std::vector<index_t>& order) {
    const std::string problem = order_problem(order, order_.size());
    ember::detail::check(problem.empty(), "DataLoader: set_order for the dataset '", dataset_->name, "': ", problem);
    order_ = order;
    loaded_ = -1;
  }

  class iterator {
   public:
    iterator(DataLoader* loader, index_t b) : loader_(loader), b_(b) {}
    const Batch& operator*() const { return loader_->load(b_); }
    iterator& operator++() {
      ++b_;
      return *this;
    }
    bool operator!=(const iterator& other) const { return b_ != other.b_; }
    bool operator==(const iterator& other) const { return b_ == other.b_; }

   private:
    DataLoader* loader_;
    index_t b_;
  };

  // Starts an epoch: a new permutation when shuffling (Fisher-Yates from the loader's generator),
  // and the dataset's Normalize as it is now.
  iterator begin() {
    make_table();
    if (options_.shuffle) {
      for (std::size_t i = order_.size() - 1; i > 0; --i)
        std::swap(order_[i], order_[static_cast<std::size_t>(generator_.below(i + 1))]);
    }
    loaded_ = -1;
    return iterator(this, 0);
  }
  iterator end() { return iterator(this, size()); }

  // Batch b of the current epoch. The tensors are reused from batch to batch: a reference
  // stays valid until the next batch is loaded.
  const Batch& load(index_t b) {
    if (b == loaded_) return batch_;
    ember::detail::check(b >= 0 && b < size(), "DataLoader: batch ", b, " is out of range (", size(), " batches)");
    const index_t first = b * options_.batch_size;
    const index_t count = std::min(options_.batch_size, dataset_->size() - first);
    const index_t per = dataset_->image_numel();
    batch_.images.resize_uninitialized({count, dataset_->channels, dataset_->height, dataset_->width});
    batch_.labels.resize_uninitialized({count});
    const index_t plane = dataset_->height * dataset_->width;
    T* out = batch_.images.data();
    for (index_t i = 0; i < count; ++i) {
      const index_t s = order_[static_cast<std::size_t>(first + i)];
      const std::uint8_t* px = dataset_->pixels.data() + s * per;
      for (index_t c = 0; c < dataset_->channels; ++c)
        convert(px + c * plane, table_.data() + c * 256, out + i * per + c * plane, plane);
      batch_.labels.data()[i] = dataset_->labels[static_cast<std::size_t>(s)];
    }
    loaded_ = b;
    return batch_;
  }

 private:
  const ImageDataset* dataset_;
  DataLoaderOptions options_;
  Generator generator_;
  std::vector<index_t> order_;
  Batch batch_;
  index_t loaded_ = -1;
  std::vector<T> table_;  // channel c, pixel value v -> table_[c * 256 + v]

  // One plane of pixels through its channel's table. Written this way (one plane, restrict
  // pointers) GCC 12 vectorises it with gathers; a loop indexing the whole batch inside the
  // channel loop was not vectorised, and an MNIST epoch of the 784-50-10 MLP (bench/epoch.cpp)
  // took 0.14 s instead of 0.08 s.
  static void convert(const std::uint8_t* __restrict src, const T* __restrict table, T* __restrict dst, index_t n) {
    for (index_t j = 0; j < n; ++j) dst[j] = table[src[j]];
  }

  // A dataset built by hand must hold one image of C x H x W bytes per label (sizes multiplied
  // with checks), or batches would read past its pixels.
  static void check_dataset(const ImageDataset& d) {
    index_t need = d.size();
    const bool positive = d.channels > 0 && d.height > 0 && d.width > 0;
    ember::detail::check(positive && !__builtin_mul_overflow(need, d.channels, &need) &&
                             !__builtin_mul_overflow(need, d.height, &need) && !__builtin_mul_overflow(need, d.width, &need) &&
                             static_cast<std::size_t>(need) == d.pixels.size(),
                         "DataLoader: the dataset '", d.name, "' has ", d.size(), " labels and ", d.pixels.size(),
                         " pixels, but ", d.size(), " images of C x H x W = ", d.channels, " x ", d.height, " x ", d.width,
                         positive ? " need their product" : " (each size must be positive)");
  }

  // ToTensor() divides by 255 (x * (1/255) can differ in the last bit), then Normalize subtracts
  // the mean and divides by the std, each converted to T first (torchvision's as_tensor): a table
  // of the results per channel, so the batch is one lookup per pixel.
  void make_table() {
    const Normalize& norm = dataset_->normalize;
    const index_t channels = dataset_->channels;
    const auto fits = [&](std::size_t n) { return n == 1 || static_cast<index_t>(n) == channels; };
    ember::detail::check(norm.mean.size() == norm.std.size() && (norm.mean.empty() || fits(norm.mean.size())),
                         "DataLoader: the dataset '", dataset_->name, "' has Normalize with ", norm.mean.size(),
                         " mean(s) and ", norm.std.size(), " std(s); give one of each, or one per channel (",
                         channels, ")");
    for (std::size_t c = 0; c < norm.std.size(); ++c) {
      ember::detail::check(std::isfinite(norm.mean[c]) && std::isfinite(norm.std[c]), "DataLoader: the dataset '",
                           dataset_->name, "' has Normalize mean[", c, "] = ", norm.mean[c], " and std[", c, "] = ",
                           norm.std[c], "; both must be finite");
      ember::detail::check(static_cast<T>(norm.std[c]) != T(0), "DataLoader: the dataset '", dataset_->name,
                           "' has Normalize std[", c, "] = 0 (it divides by the std)");
    }
    table_.resize(static_cast<std::size_t>(channels * 256));
    for (index_t c = 0; c < channels; ++c) {
      const std::size_t k = norm.mean.size() == 1 ? 0 : static_cast<std::size_t>(c);
      for (int v = 0; v < 256; ++v) {
        T x = static_cast<T>(v) / T(255);
        if (!norm.mean.empty()) x = (x - static_cast<T>(norm.mean[k])) / static_cast<T>(norm.std[k]);
        table_[static_cast<std::size_t>(c * 256 + v)] = x;
      }
    }
  }
};

}  // namespace ember::data

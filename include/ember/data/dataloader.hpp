// data::DataLoader: batches of a dataset, shuffled per epoch from a seed, as
// torch.utils.data.DataLoader. `for (const auto& [images, labels] : loader)`. A dataset's
// `transforms` (augmentation, data/transforms.hpp) run per sample on its bytes, then Normalize.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <optional>
#include <string>
#include <vector>

#include "ember/data/dataset.hpp"
#include "ember/data/transforms.hpp"
#include "ember/error.hpp"
#include "ember/random.hpp"
#include "ember/tensor.hpp"
#include "ember/threads.hpp"

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
  // Data-parallel training (dist::DataParallel): this process's shard, as torch's
  // DistributedSampler. Every rank draws the epoch's permutation from the same seed, pads it to
  // a multiple of world_size by repeating its start, and takes positions rank, rank + world_size,
  // ...: with world_size W and batch_size b, batch k of every rank together holds the samples of
  // batch k of one process with batch W * b.
  int rank = 0;
  int world_size = 1;
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
    ember::detail::check(options.world_size >= 1 && options.rank >= 0 && options.rank < options.world_size,
                         "DataLoader: rank ", options.rank, " of world_size ", options.world_size,
                         " is out of range (0 <= rank < world_size)");
    ember::detail::check(dataset.size() > 0, "DataLoader: the dataset '", dataset.name, "' is empty");
    check_dataset(dataset);
    order_.resize(static_cast<std::size_t>(dataset.size()));
    std::iota(order_.begin(), order_.end(), index_t{0});
    make_table();
  }

  // Batches per epoch: 938 for 60,000 samples at batch 64 (937 with drop_last).
  index_t size() const {
    const index_t n = samples(), b = options_.batch_size;
    return options_.drop_last ? n / b : (n + b - 1) / b;
  }
  const DataLoaderOptions& options() const { return options_; }
  // Samples per epoch in this loader: the dataset's, or its shard's (ceil(n / world_size)).
  index_t samples() const {
    const index_t n = dataset_->size(), w = options_.world_size;
    return (n + w - 1) / w;
  }
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

  // The epoch in progress, for checkpoints (with order() and generator()), as torchdata's
  // StatefulDataLoader keeps it: the batch a loop over the loader goes on with, one past the last
  // batch it loaded; -1 when no loop is under way (before the first begin(), once the epoch's
  // last batch is loaded, and once the loop's iterators are gone, as after a `break`: the next
  // begin() starts a new epoch); the batch size that counts in, over all ranks (batch_size x
  // world_size: batch k holds the same samples with any number of ranks); and the epoch's augmentation
  // seed when its dataset had transforms at begin(). Batches read with load() outside a loop
  // are not counted.
  struct EpochState {
    index_t next_batch = -1;
    index_t batch_size = 0;
    std::optional<std::uint64_t> augmentation_seed;
  };
  EpochState epoch_state() const {
    return {next_, global_batch(), augmented_ ? std::optional(epoch_seed_) : std::nullopt};
  }
  // Why `state` cannot go on in this loader; empty when it can (always when next_batch is -1).
  std::string epoch_state_problem(const EpochState& state) const {
    if (state.next_batch == -1) return {};
    if (state.next_batch < 0 || state.next_batch >= size())
      return ember::detail::concat("the epoch goes on with batch ", state.next_batch, ", out of range (", size(),
                                   " batches)");
    if (state.batch_size != global_batch())
      return ember::detail::concat("the epoch was saved mid-way with batch_size ", state.batch_size,
                                   options_.world_size > 1 ? " (over all ranks)" : "", ", this loader's is ",
                                   global_batch(), options_.world_size > 1 ? " (batch_size x world_size)" : "",
                                   " (its batches would hold other samples)");
    if (state.augmentation_seed.has_value() != !dataset_->transforms.empty())
      return ember::detail::concat("the epoch was saved mid-way ", state.augmentation_seed ? "with" : "without",
                                   " augmentation, the dataset '", dataset_->name, "' has ",
                                   dataset_->transforms.empty() ? "no transforms" : "transforms");
    return {};
  }
  // Resuming an interrupted epoch (io::load_checkpoint calls it after set_order and
  // generator().set_state()): the next begin() goes on with batch next_batch of the current order
  // and its augmentation seed, shuffling and drawing nothing; the begin() after it starts a new
  // epoch. next_batch -1: the next begin() starts a new epoch.
  void set_epoch_state(const EpochState& state) {
    const std::string problem = epoch_state_problem(state);
    ember::detail::check(problem.empty(), "DataLoader: set_epoch_state for the dataset '", dataset_->name, "': ",
                         problem);
    next_ = state.next_batch;
    resume_ = next_ >= 0;
    augmented_ = state.augmentation_seed.has_value();
    epoch_seed_ = state.augmentation_seed.value_or(0);
    loaded_ = -1;
  }

  // An iterator from begin() (and its copies) marks a loop under way; it must not outlive its loader.
  class iterator {
   public:
    iterator(DataLoader* loader, index_t b, bool loop = false) : loader_(loader), b_(b), loop_(loop) { hold(); }
    iterator(const iterator& other) : loader_(other.loader_), b_(other.b_), loop_(other.loop_) { hold(); }
    iterator& operator=(const iterator& other) {
      if (this != &other) {
        release();
        loader_ = other.loader_, b_ = other.b_, loop_ = other.loop_;
        hold();
      }
      return *this;
    }
    ~iterator() { release(); }
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
    bool loop_;  // from begin(): counted in the loader's loops_

    void hold() {
      if (loop_) ++loader_->loops_;
    }
    // The last iterator of a loop gone (the loop over, or left by a `break`): no epoch goes on.
    void release() {
      if (loop_ && --loader_->loops_ == 0 && !loader_->resume_) loader_->next_ = -1;
    }
  };

  // Starts an epoch: a new permutation when shuffling (Fisher-Yates from the loader's generator),
  // the dataset's Normalize and transforms as they are now, and, when it has transforms, the
  // epoch's augmentation seed, the generator's next number. The sample at position i of the epoch
  // draws its parameters from SampleGenerator(epoch seed, i): the same seed gives the same
  // augmented batches, in whatever order they are loaded, and the generator's state at the end of
  // an epoch (what checkpoints save) fixes every later epoch. After set_epoch_state, it goes on
  // with the interrupted epoch instead, from its next batch.
  iterator begin() {
    make_table();
    loaded_ = -1;
    if (resume_) {
      resume_ = false;
      ember::detail::check(augmented_ == !dataset_->transforms.empty(), "DataLoader: the epoch resumed by ",
                           "set_epoch_state was ", augmented_ ? "with" : "without", " augmentation, the dataset '",
                           dataset_->name, "' now has ", augmented_ ? "no transforms" : "transforms");
      return iterator(this, next_, true);
    }
    if (options_.shuffle) {
      for (std::size_t i = order_.size() - 1; i > 0; --i)
        std::swap(order_[i], order_[static_cast<std::size_t>(generator_.below(i + 1))]);
    }
    augmented_ = !dataset_->transforms.empty();
    if (augmented_) epoch_seed_ = generator_.next_u64();
    next_ = 0;
    return iterator(this, 0, true);
  }
  iterator end() { return iterator(this, size()); }

  // Batch b of the current epoch. The tensors are reused from batch to batch: a reference
  // stays valid until the next batch is loaded.
  const Batch& load(index_t b) {
    if (b == loaded_) return batch_;
    ember::detail::check(b >= 0 && b < size(), "DataLoader: batch ", b, " is out of range (", size(), " batches)");
    const index_t first = b * options_.batch_size;
    const index_t count = std::min(options_.batch_size, samples() - first);
    const index_t n = dataset_->size(), w = options_.world_size;
    const index_t per = dataset_->image_numel();
    const ImageSize& os = out_size_;  // after the transforms
    const index_t out_per = os.c * os.h * os.w;
    batch_.images.resize_uninitialized({count, os.c, os.h, os.w});
    batch_.labels.resize_uninitialized({count});
    const index_t plane = os.h * os.w;
    T* out = batch_.images.data();
    std::int64_t* labels = batch_.labels.data();
    const auto samples = [&](index_t begin, index_t end) {
      for (index_t i = begin; i < end; ++i) {
        // The position in the epoch's permutation, past n its start again (shards only).
        const index_t position = options_.rank + (first + i) * w;
        const index_t s = order_[static_cast<std::size_t>(position % n)];
        const std::uint8_t* px = dataset_->pixels.data() + s * per;
        if (!dataset_->transforms.empty()) px = augment(px, position);
        for (index_t c = 0; c < os.c; ++c)
          convert(px + c * plane, table_.data() + c * 256, out + i * out_per + c * plane, plane);
        labels[i] = dataset_->labels[static_cast<std::size_t>(s)];
      }
    };
    // Split among the threads when there is enough (a batch of 64 MNIST images: 50,000 lookups,
    // about 20 us on one core, which the other core spent waiting for the batch) and no
    // transforms (they share one scratch image).
    constexpr index_t parallel_values = index_t{1} << 14;
    ember::detail::parallel_for(count, dataset_->transforms.empty() && count * out_per >= parallel_values, samples);
    loaded_ = b;
    if (loops_ > 0) next_ = b + 1 < size() ? b + 1 : -1;
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
  ImageSize out_size_{};  // an image's shape after the dataset's transforms
  std::uint64_t epoch_seed_ = 0;
  bool augmented_ = false;  // the current epoch has an augmentation seed (its dataset had transforms)
  index_t next_ = -1;       // the current epoch's next batch (EpochState), -1: none in progress
  bool resume_ = false;     // the next begin() goes on with the current epoch (set_epoch_state)
  int loops_ = 0;           // live iterators from begin(): a loop is under way
  std::vector<std::uint8_t> scratch_[2];  // the transforms' images, reused (sized by make_table)

  index_t global_batch() const { return options_.batch_size * options_.world_size; }

  // The sample's bytes through the dataset's transforms, with parameters from
  // SampleGenerator(epoch seed, position): a pointer into scratch_, valid until the next sample.
  const std::uint8_t* augment(const std::uint8_t* px, index_t position) {
    SampleGenerator g(epoch_seed_, static_cast<std::uint64_t>(position));
    ImageSize size{dataset_->channels, dataset_->height, dataset_->width};
    int k = 0;
    for (const Transform& t : dataset_->transforms) {
      std::uint8_t* dst = scratch_[k].data();
      std::visit([&](const auto& x) { x(g, px, dst, size); }, t);
      size = output_size(t, size);
      px = dst;
      k ^= 1;
    }
    return px;
  }

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
    out_size_ = {channels, dataset_->height, dataset_->width};
    std::size_t largest = 0;
    for (const Transform& t : dataset_->transforms) {
      out_size_ = output_size(t, out_size_);
      largest = std::max(largest, static_cast<std::size_t>(out_size_.c * out_size_.h * out_size_.w));
    }
    for (auto& s : scratch_) s.resize(largest);
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

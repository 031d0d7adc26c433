// Data-parallel training over MPI (docs/distributed.md), PyTorch's DistributedDataParallel in
// ember's terms. The optional part of ember: this header and the CMake target ember::distributed
// need MPI (Debian: libopenmpi-dev, or MPICH); nothing else in ember includes it.
//
//   dist::Environment env(argc, argv);            // MPI_Init ... MPI_Finalize
//   data::DataLoader loader(train, {.batch_size = 32, .shuffle = true, .seed = 1,
//                                   .rank = env.rank(), .world_size = env.world_size()});
//   dist::DataParallel ddp(model);                // rank 0's parameters and buffers on every rank
//   for (const auto& [images, labels] : loader) {
//     const auto& logits = ddp(images);
//     ... criterion, zero_grad ...
//     ddp.backward(criterion.backward());        // every grad is now the mean over the ranks
//     optimizer.step();
//   }
//
// mpirun (or Slurm's srun) starts the ranks; MPI moves the bytes. Only MPI's C API is used (Open MPI
// and MPICH alike), from the thread that made the Environment (MPI_THREAD_FUNNELED).
#pragma once

#include <mpi.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <vector>

#include "ember/data/dataloader.hpp"
#include "ember/data/dataset.hpp"
#include "ember/error.hpp"
#include "ember/metrics.hpp"
#include "ember/nn/module.hpp"
#include "ember/tensor.hpp"

namespace ember::dist {

namespace detail {

template <class T>
MPI_Datatype mpi_type() {
  if constexpr (std::is_same_v<T, float>) return MPI_FLOAT;
  else if constexpr (std::is_same_v<T, double>) return MPI_DOUBLE;
  else if constexpr (std::is_same_v<T, std::int64_t>) return MPI_INT64_T;
  else if constexpr (std::is_same_v<T, std::int32_t>) return MPI_INT32_T;
  else static_assert(sizeof(T) == 0, "ember::dist: no MPI datatype for this element type");
}

inline int world_rank() {
  int initialized = 0, finalized = 0, rank = -1;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  if (initialized && !finalized) MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  return rank;
}

// An MPI call's failure as an ember::Error naming the call, the rank and MPI's own words.
inline void check_mpi(int code, const char* call) {
  if (code == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING] = {};
  int length = 0;
  MPI_Error_string(code, text, &length);
  throw Error(ember::detail::concat("ember::dist: ", call, " failed on rank ", world_rank(), ": ",
                                    std::string_view(text, static_cast<std::size_t>(length))));
}

// Ends the whole job (every rank, through mpirun) with a message naming this rank.
[[noreturn]] inline void abort_job(std::string_view why, int code = 1) {
  std::fprintf(stderr, "ember::dist: rank %d: %.*s; ending the job (MPI_Abort)\n", world_rank(),
               static_cast<int>(why.size()), why.data());
  std::fflush(stderr);
  MPI_Abort(MPI_COMM_WORLD, code);
  std::abort();  // MPI_Abort does not return; if it did, this rank still ends
}

// An exception nobody caught: say which rank and what, then end the job rather than leave the
// other ranks waiting in a collective for this one.
[[noreturn]] inline void on_terminate() {
  std::string why = "terminate called";
  if (const std::exception_ptr e = std::current_exception()) {
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& x) {
      why = ember::detail::concat("uncaught exception: ", x.what());
    } catch (...) {
      why = "uncaught exception of unknown type";
    }
  }
  abort_job(why);
}

}  // namespace detail

// MPI for the program's lifetime (RAII): MPI_Init_thread at construction (unless MPI is already
// initialised), MPI_Finalize at destruction. MPI's errors on MPI_COMM_WORLD become ember::Error,
// and a rank that fails does not leave the others waiting:
//   - an exception that leaves main uncaught, or one that unwinds through the Environment, ends the
//     job with MPI_Abort and a message naming the rank;
//   - catch it in main and call env.abort(e.what()) to end the job with its message.
// A rank killed by a signal is mpirun's to notice: it ends the other ranks.
class Environment {
 public:
  Environment(int& argc, char**& argv) {
    int initialized = 0;
    detail::check_mpi(MPI_Initialized(&initialized), "MPI_Initialized");
    if (!initialized) {
      int provided = 0;
      detail::check_mpi(MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
      owner_ = true;
      if (provided < MPI_THREAD_FUNNELED) {  // OpenMP's threads run beside the thread that calls MPI
        MPI_Finalize();
        throw Error("ember::dist: this MPI library does not support MPI_THREAD_FUNNELED (a process with other "
                    "threads, OpenMP's, beside the one that calls MPI)");
      }
    }
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    detail::check_mpi(MPI_Comm_rank(MPI_COMM_WORLD, &rank_), "MPI_Comm_rank");
    detail::check_mpi(MPI_Comm_size(MPI_COMM_WORLD, &size_), "MPI_Comm_size");
    previous_terminate_ = std::set_terminate(detail::on_terminate);
  }
  Environment(const Environment&) = delete;
  Environment& operator=(const Environment&) = delete;
  ~Environment() {
    if (std::uncaught_exceptions() > 0 && size_ > 1)
      detail::abort_job("an exception is unwinding through dist::Environment (catch it in main and call env.abort(what) "
                        "to see its message)");
    std::set_terminate(previous_terminate_);
    if (owner_) MPI_Finalize();
  }

  int rank() const { return rank_; }
  int world_size() const { return size_; }
  bool is_main() const { return rank_ == 0; }  // logs, progress and checkpoints
  void barrier() const { detail::check_mpi(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier"); }
  // Ends every rank of the job with `why`, naming this rank.
  [[noreturn]] void abort(std::string_view why, int code = 1) const { detail::abort_job(why, code); }

 private:
  int rank_ = 0, size_ = 1;
  bool owner_ = false;
  std::terminate_handler previous_terminate_ = nullptr;
};

// Sums (or averages) values over every rank of MPI_COMM_WORLD, in place; every rank gets the result.
template <class T>
void all_reduce_sum(T* values, std::size_t n) {
  detail::check_mpi(MPI_Allreduce(MPI_IN_PLACE, values, static_cast<int>(n), detail::mpi_type<T>(), MPI_SUM,
                                  MPI_COMM_WORLD),
                    "MPI_Allreduce");
}
template <class T>
T all_reduce_sum(T value) {
  all_reduce_sum(&value, 1);
  return value;
}
template <class T>
void all_reduce_sum(Tensor<T>& t) {
  all_reduce_sum(t.data(), static_cast<std::size_t>(t.numel()));
}
inline double all_reduce_mean(double value) {
  int size = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  return all_reduce_sum(value) / size;
}
// Rank `root`'s values on every rank.
template <class T>
void broadcast(T* values, std::size_t n, int root = 0) {
  detail::check_mpi(MPI_Bcast(values, static_cast<int>(n), detail::mpi_type<T>(), root, MPI_COMM_WORLD), "MPI_Bcast");
}

// The samples rank, rank + world_size, ... of a dataset: each rank's part of a test set (no
// padding, unlike training's shards, so every sample counts once).
inline data::ImageDataset shard(const data::ImageDataset& d, int rank, int world_size) {
  ember::detail::check(world_size >= 1 && rank >= 0 && rank < world_size, "dist::shard: rank ", rank,
                       " of world_size ", world_size, " is out of range");
  data::ImageDataset out{d.name, d.channels, d.height, d.width, {}, {}, d.normalize, d.transforms};
  const std::size_t per = static_cast<std::size_t>(d.image_numel());
  const std::size_t count = (d.labels.size() + static_cast<std::size_t>(world_size - rank - 1)) / static_cast<std::size_t>(world_size);
  out.labels.reserve(count);
  out.pixels.reserve(count * per);
  for (std::size_t i = static_cast<std::size_t>(rank); i < d.labels.size(); i += static_cast<std::size_t>(world_size)) {
    out.labels.push_back(d.labels[i]);
    out.pixels.insert(out.pixels.end(), d.pixels.begin() + static_cast<std::ptrdiff_t>(i * per),
                      d.pixels.begin() + static_cast<std::ptrdiff_t>((i + 1) * per));
  }
  out.name += ember::detail::concat(" (rank ", rank, " of ", world_size, ")");
  return out;
}

// Test accuracy over the whole dataset, each rank predicting its shard (every sample once): the
// same number on every rank.
template <class Model>
double accuracy(Model& model, const data::ImageDataset& dataset, index_t batch_size = 256) {
  int rank = 0, size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  const data::ImageDataset part = size == 1 ? dataset : shard(dataset, rank, size);
  std::int64_t counts[2] = {0, 0};  // correct, seen
  if (part.size() > 0)
    metrics::detail::for_each_prediction(model, part, batch_size, [&](index_t predicted, index_t label) {
      counts[0] += predicted == label;
      counts[1] += 1;
    });
  all_reduce_sum(counts, 2);
  return counts[1] == 0 ? 0.0 : static_cast<double>(counts[0]) / static_cast<double>(counts[1]);
}

struct DataParallelOptions {
  double bucket_cap_mb = 25;      // PyTorch's bucket_cap_mb
  double first_bucket_mb = 1;     // PyTorch's first bucket: the first gradients start moving sooner
  bool broadcast_buffers = true;  // rank 0's buffers (BatchNorm's running stats) before each training forward
};

// What the last backward's communication did, to see the overlap (bench/distributed.cpp).
struct DataParallelStats {
  int buckets = 0;
  int started_in_backward = 0;  // buckets whose allreduce began while the backward still ran
  double backward_seconds = 0;  // the model's backward, reductions started inside it included
  double wait_seconds = 0;      // after it: the rest of the reductions and the copies back
};

// The model on every rank, its gradients averaged over the ranks after each backward.
//   - At construction rank 0's parameters and buffers are broadcast to every rank.
//   - The gradients are reduced in buckets (about bucket_cap_mb each; the first about
//     first_bucket_mb), in the reverse order of the parameters, as PyTorch's DDP: a bucket's
//     allreduce starts as soon as every layer that owns its parameters has run its last backward
//     in the model's recorded graph, while the rest of the backward runs, and buckets start in
//     the same order on every rank. A model with its own backward (no recorded graph) reduces
//     everything once its backward returns.
//   - Every rank must run the same layers in the same order (as DDP without
//     find_unused_parameters); a parameter no gradient reached is reduced as it is (zeros after
//     zero_grad).
template <class T = float>
class DataParallel final : private nn::detail::BackwardObserver<T> {
 public:
  explicit DataParallel(nn::Module<T>& model, const DataParallelOptions& options = {}) : model_(&model), options_(options) {
    ember::detail::check(options.bucket_cap_mb > 0 && options.first_bucket_mb > 0, "dist::DataParallel: bucket_cap_mb (",
                         options.bucket_cap_mb, ") and first_bucket_mb (", options.first_bucket_mb,
                         ") must be positive");
    detail::check_mpi(MPI_Comm_size(MPI_COMM_WORLD, &size_), "MPI_Comm_size");
    detail::check_mpi(MPI_Comm_rank(MPI_COMM_WORLD, &rank_), "MPI_Comm_rank");
    params_ = model.parameters();
    check_same_structure();
    sync_state(true);
    make_buckets();
    // Which parameters each module holds, itself or below: a layer done marks them ready.
    for (auto& [name, m] : model.named_modules()) {
      std::vector<std::size_t>& owned = owners_[m];
      for (nn::Parameter<T>* p : m->parameters())
        for (std::size_t i = 0; i < params_.size(); ++i)
          if (params_[i] == p) owned.push_back(i);
    }
  }
  DataParallel(const DataParallel&) = delete;
  DataParallel& operator=(const DataParallel&) = delete;

  // model(x), after rank 0's buffers reach every rank (in train mode, as DDP's broadcast_buffers).
  const Tensor<T>& forward(const Tensor<T>& x) {
    if (options_.broadcast_buffers && size_ > 1 && model_->is_training()) sync_state(false);
    return (*model_)(x);
  }
  const Tensor<T>& operator()(const Tensor<T>& x) { return forward(x); }
  const Tensor<T>& operator()(Tensor<T>&&) = delete;  // the model keeps its input until backward

  // The model's backward; when it returns every parameter's grad is the mean over the ranks.
  const Tensor<T>& backward(const Tensor<T>& dy) {
    const auto start = std::chrono::steady_clock::now();
    for (Bucket& b : buckets_) b.pending = b.params.size(), b.started = false, b.request = MPI_REQUEST_NULL;
    std::fill(ready_.begin(), ready_.end(), false);
    next_bucket_ = 0;
    stats_ = {.buckets = static_cast<int>(buckets_.size())};
    const Tensor<T>* dx = nullptr;
    if (size_ > 1) nn::detail::backward_observer<T>() = this;
    try {
      dx = &model_->backward(dy);
    } catch (const std::exception& e) {
      nn::detail::backward_observer<T>() = nullptr;
      // Reductions already started would go on writing into the buckets, and the ranks' calls
      // would no longer match: nothing can continue.
      if (next_bucket_ > 0)
        detail::abort_job(ember::detail::concat("an error in the backward after gradient reductions started: ", e.what()));
      throw;
    }
    nn::detail::backward_observer<T>() = nullptr;
    const auto middle = std::chrono::steady_clock::now();
    if (size_ > 1) finish();
    const auto end = std::chrono::steady_clock::now();
    stats_.backward_seconds = std::chrono::duration<double>(middle - start).count();
    stats_.wait_seconds = std::chrono::duration<double>(end - middle).count();
    return *dx;
  }

  nn::Module<T>& module() { return *model_; }
  const DataParallelStats& last_stats() const { return stats_; }
  int rank() const { return rank_; }
  int world_size() const { return size_; }

 private:
  struct Bucket {
    std::vector<std::size_t> params;  // indices into params_
    std::vector<T> values;
    std::size_t pending = 0;
    bool started = false;
    MPI_Request request = MPI_REQUEST_NULL;
  };

  nn::Module<T>* model_;
  DataParallelOptions options_;
  int rank_ = 0, size_ = 1;
  std::vector<nn::Parameter<T>*> params_;
  std::vector<std::size_t> bucket_of_, offset_of_;  // each parameter's bucket and place in its values
  std::vector<bool> ready_;
  std::vector<Bucket> buckets_;
  std::size_t next_bucket_ = 0;  // buckets start in order: this one is the next
  std::unordered_map<const nn::Module<T>*, std::vector<std::size_t>> owners_;
  DataParallelStats stats_;

  // Every rank must hold the same model: the same number of parameters of the same sizes.
  void check_same_structure() {
    std::vector<std::int64_t> mine{static_cast<std::int64_t>(params_.size())};
    for (nn::Parameter<T>* p : params_) mine.push_back(p->value.numel());
    std::int64_t count = static_cast<std::int64_t>(mine.size()), low = count, high = count;
    detail::check_mpi(MPI_Allreduce(MPI_IN_PLACE, &low, 1, MPI_INT64_T, MPI_MIN, MPI_COMM_WORLD), "MPI_Allreduce");
    detail::check_mpi(MPI_Allreduce(MPI_IN_PLACE, &high, 1, MPI_INT64_T, MPI_MAX, MPI_COMM_WORLD), "MPI_Allreduce");
    bool same = low == high;
    if (same) {
      std::vector<std::int64_t> root = mine;
      broadcast(root.data(), root.size());
      same = root == mine;
      int all = same;
      detail::check_mpi(MPI_Allreduce(MPI_IN_PLACE, &all, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD), "MPI_Allreduce");
      same = all != 0;
    }
    ember::detail::check(same, "dist::DataParallel: the model differs between ranks (rank ", rank_, " has ",
                         params_.size(), " parameters); every rank must build the same model");
  }

  // Rank 0's parameters (at construction) and buffers on every rank.
  void sync_state(bool parameters) {
    if (size_ == 1) return;
    nn::for_each_state<T>(*model_, [&](const nn::Name&, auto& s) {
      using S = std::remove_cvref_t<decltype(s)>;
      if constexpr (std::is_same_v<S, nn::Parameter<T>>) {
        if (parameters) broadcast(s.value.data(), static_cast<std::size_t>(s.value.numel()));
      } else if constexpr (!std::is_same_v<S, Generator>) {
        if (s.numel() > 0) broadcast(s.data(), static_cast<std::size_t>(s.numel()));
      }
    });
  }

  // Parameters in reverse order (the order a backward reaches them, roughly), cut into buckets.
  void make_buckets() {
    bucket_of_.assign(params_.size(), 0);
    offset_of_.assign(params_.size(), 0);
    ready_.assign(params_.size(), false);
    double cap = options_.first_bucket_mb * 1024 * 1024, used = 0;
    for (std::size_t i = params_.size(); i-- > 0;) {
      const double bytes = static_cast<double>(params_[i]->value.numel()) * sizeof(T);
      if (buckets_.empty() || (used > 0 && used + bytes > cap)) {
        if (!buckets_.empty()) cap = options_.bucket_cap_mb * 1024 * 1024;
        buckets_.emplace_back();
        used = 0;
      }
      Bucket& b = buckets_.back();
      offset_of_[i] = b.values.size();
      b.params.push_back(i);
      b.values.resize(b.values.size() + static_cast<std::size_t>(params_[i]->value.numel()));
      bucket_of_[i] = buckets_.size() - 1;
      used += bytes;
    }
  }

  void layer_done(nn::Module<T>& layer) override {
    const auto it = owners_.find(&layer);
    if (it == owners_.end()) return;
    for (const std::size_t i : it->second) mark_ready(i);
    start_ready_buckets();
    progress();
  }

  // Parameter i's gradient is complete: into its bucket.
  void mark_ready(std::size_t i) {
    if (ready_[i]) return;
    ready_[i] = true;
    Bucket& b = buckets_[bucket_of_[i]];
    const Tensor<T>& g = params_[i]->grad;
    ember::detail::check(g.numel() == params_[i]->value.numel(), "dist::DataParallel: a parameter's grad has ",
                         g.numel(), " values, its value ", params_[i]->value.numel());
    std::copy_n(g.data(), g.numel(), b.values.data() + offset_of_[i]);
    --b.pending;
  }

  void start_ready_buckets() {
    while (next_bucket_ < buckets_.size() && buckets_[next_bucket_].pending == 0) {
      Bucket& b = buckets_[next_bucket_++];
      detail::check_mpi(MPI_Iallreduce(MPI_IN_PLACE, b.values.data(), static_cast<int>(b.values.size()),
                                       detail::mpi_type<T>(), MPI_SUM, MPI_COMM_WORLD, &b.request),
                        "MPI_Iallreduce");
      b.started = true;
      if (nn::detail::backward_observer<T>()) ++stats_.started_in_backward;
    }
  }

  // MPI moves a non-blocking collective along only inside MPI calls: a test per layer done.
  void progress() {
    for (std::size_t i = 0; i < next_bucket_; ++i) {
      Bucket& b = buckets_[i];
      if (b.request == MPI_REQUEST_NULL) continue;
      int done = 0;
      detail::check_mpi(MPI_Test(&b.request, &done, MPI_STATUS_IGNORE), "MPI_Test");
    }
  }

  // After the backward: the parameters no layer reported, the buckets not yet started, then the
  // wait and the mean back into each grad.
  void finish() {
    for (std::size_t i = 0; i < params_.size(); ++i) mark_ready(i);
    start_ready_buckets();
    const T ranks = static_cast<T>(size_);
    for (Bucket& b : buckets_) {
      detail::check_mpi(MPI_Wait(&b.request, MPI_STATUS_IGNORE), "MPI_Wait");
      for (const std::size_t i : b.params) {
        Tensor<T>& g = params_[i]->grad;
        const T* src = b.values.data() + offset_of_[i];
        T* dst = g.data();
        for (index_t j = 0; j < g.numel(); ++j) dst[j] = src[j] / ranks;  // as torch: the sum / world size
      }
    }
  }
};

}  // namespace ember::dist

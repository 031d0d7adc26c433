// A steady-state training step allocates nothing: every heap allocation is counted at the C level
// (this binary replaces malloc, calloc, realloc, aligned_alloc, posix_memalign and memalign, which
// operator new and std::aligned_alloc end in), and Eigen is told to abort on any malloc of its own
// (EIGEN_RUNTIME_NO_MALLOC) while the steps run, such as its GEMM packing buffers when they
// outgrow EIGEN_STACK_ALLOCATION_LIMIT (a compile definition of ember::ember). A separate binary,
// so no other test's allocations interfere.
#define EIGEN_RUNTIME_NO_MALLOC
#include <ember/ember.hpp>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "models.hpp"

#include <dlfcn.h>
#include <cstring>

namespace {
std::atomic<long> allocations{0};
// libgomp allocates its thread-team structures itself when a parallel region's team size differs
// from the last one's (a team of one included): ember enters regions only with the process's
// thread count (detail::on_threads), so none may happen in steady state; they are counted apart
// only to say where an allocation came from.
std::atomic<long> openmp_allocations{0};

bool from_openmp(void* caller) {
  Dl_info info;
  return dladdr(caller, &info) != 0 && info.dli_fname && std::strstr(info.dli_fname, "libgomp") != nullptr;
}
void note_allocation(void* caller) {
  if (from_openmp(caller)) ++openmp_allocations;
  else ++allocations;
}
}  // namespace

// glibc's own entry points, which the replacements forward to.
extern "C" {
void* __libc_malloc(std::size_t);
void* __libc_calloc(std::size_t, std::size_t);
void* __libc_realloc(void*, std::size_t);
void* __libc_memalign(std::size_t, std::size_t);

void* malloc(std::size_t n) {
  note_allocation(__builtin_return_address(0));
  return __libc_malloc(n);
}
void* calloc(std::size_t n, std::size_t size) {
  note_allocation(__builtin_return_address(0));
  return __libc_calloc(n, size);
}
void* realloc(void* p, std::size_t n) {
  note_allocation(__builtin_return_address(0));
  return __libc_realloc(p, n);
}
void* aligned_alloc(std::size_t alignment, std::size_t n) {
  note_allocation(__builtin_return_address(0));
  return __libc_memalign(alignment, n);
}
void* memalign(std::size_t alignment, std::size_t n) {
  note_allocation(__builtin_return_address(0));
  return __libc_memalign(alignment, n);
}
int posix_memalign(void** out, std::size_t alignment, std::size_t n) {
  note_allocation(__builtin_return_address(0));
  void* p = __libc_memalign(alignment, n);
  if (!p) return 12;  // ENOMEM
  *out = p;
  return 0;
}
}

using namespace ember;
namespace F = ember::nn::functional;

// A model written with forward() only: member calls, functional ops, a residual add, a cat and a
// view, all recorded on its graph and replayed.
struct ForwardOnly : nn::Module<float> {
  nn::Conv2d<> conv1{1, 8, 3};
  nn::Dropout<> drop{0.25};
  nn::Linear<> fc1{8 * 13 * 13, 32}, fc2{32, 32}, head{64, 10};
  EMBER_MODULE(ForwardOnly, conv1, drop, fc1, fc2, head)
  const Tensor<>& forward(const Tensor<>& x) override {
    const auto& h = F::flatten(drop(F::max_pool2d(F::relu(conv1(x)), 2)), 1);
    const auto& z = F::relu(fc1(h));
    const auto& r = F::add(F::relu(fc2(z)), z);
    return F::log_softmax(head(F::cat({r, F::reshape(z, {z.size(0), -1})}, 1)), 1);
  }
};

// Warms up over a whole epoch (so the last, smaller batch has been seen), then counts the
// allocations of the steps of a second epoch.
template <class Model>
bool allocates_nothing(const char* name, Model& model, const data::ImageDataset& ds, int threads) {
  set_num_threads(threads);
  data::DataLoader loader(ds, {.batch_size = 64, .shuffle = true, .seed = 0});
  optim::Adam optimizer(model.parameters(), {.lr = 1e-3});
  test::train_steps(model, optimizer, loader, -1);  // a whole epoch
  const long before = allocations.load(), openmp_before = openmp_allocations.load();
  Eigen::internal::set_is_malloc_allowed(false);
  test::train_steps(model, optimizer, loader, -1);
  Eigen::internal::set_is_malloc_allowed(true);
  const long count = allocations.load() - before, openmp = openmp_allocations.load() - openmp_before;
  std::printf("%s %s, %d thread(s): %ld allocations in the steps of an epoch of %lld samples, %ld of them by libgomp's "
              "thread teams\n",
              count + openmp ? "FAIL" : "ok  ", name, threads, count + openmp, static_cast<long long>(ds.size()), openmp);
  return count + openmp == 0;
}

// The other optimizers, with a schedule stepped and the gradients clipped every step (a wrapper
// whose step() does all three, so train_steps runs it).
template <class Optimizer, class Schedule>
struct Scheduled {
  Optimizer& optimizer;
  Schedule& schedule;
  void zero_grad() { optimizer.zero_grad(); }
  void step() {
    nn::utils::clip_grad_norm_(optimizer.params(), 1.0);
    optimizer.step();
    schedule.step();
  }
};
template <class Optimizer, class Schedule>
bool optimizer_allocates_nothing(const char* name, Optimizer& optimizer, Schedule& schedule, nn::Sequential<float>& model,
                                 const data::ImageDataset& ds) {
  data::DataLoader loader(ds, {.batch_size = 64, .shuffle = true, .seed = 0});
  Scheduled<Optimizer, Schedule> s{optimizer, schedule};
  test::train_steps(model, s, loader, -1);
  const long before = allocations.load() + openmp_allocations.load();
  Eigen::internal::set_is_malloc_allowed(false);
  test::train_steps(model, s, loader, -1);
  Eigen::internal::set_is_malloc_allowed(true);
  const long count = allocations.load() + openmp_allocations.load() - before;
  std::printf("%s seed MLP, %s: %ld allocations in the steps of an epoch\n", count ? "FAIL" : "ok  ", name, count);
  return count == 0;
}

bool optimizers_allocate_nothing(const data::ImageDataset& ds) {
  set_num_threads(1);
  bool ok = true;
  auto mlp = test::make_seed_mlp();
  optim::AdamW adamw(mlp.parameters(), {.amsgrad = true});
  optim::OneCycleLR one_cycle(adamw, 1e-3, 100);
  ok &= optimizer_allocates_nothing("AdamW + OneCycleLR + clip_grad_norm_", adamw, one_cycle, mlp, ds);
  optim::RMSprop rmsprop(mlp.parameters(), {.momentum = 0.9, .centered = true});
  optim::CosineAnnealingLR cosine(rmsprop, 5);
  ok &= optimizer_allocates_nothing("RMSprop + CosineAnnealingLR + clip_grad_norm_", rmsprop, cosine, mlp, ds);
  optim::Adadelta adadelta(mlp.parameters());
  optim::StepLR step_lr(adadelta, 3, 0.7);
  ok &= optimizer_allocates_nothing("Adadelta + StepLR + clip_grad_norm_", adadelta, step_lr, mlp, ds);
  return ok;
}

int main() {
  const auto ds = test::fake_mnist(64 * 5 + 17);  // 5 full batches and a partial one
  bool ok = true;
  for (int threads : {1, 2}) {
    auto mlp = test::make_seed_mlp();
    ok &= allocates_nothing("seed MLP", mlp, ds, threads);
    test::SeedCnn<> cnn;
    ok &= allocates_nothing("seed CNN", cnn, ds, threads);
    auto lenet = test::make_lenet();
    ok &= allocates_nothing("LeNet-5", lenet, ds, threads);
    nn::Sequential bn{nn::Conv2d{1, 8, 3},  nn::BatchNorm2d{8}, nn::ReLU{}, nn::MaxPool2d{2}, nn::Dropout{0.25},
                      nn::Flatten{},        nn::Linear{8 * 13 * 13, 32}, nn::BatchNorm1d{32}, nn::ReLU{},
                      nn::Dropout{0.5},     nn::Linear{32, 10}};
    ok &= allocates_nothing("Conv2d-BatchNorm2d-Dropout CNN", bn, ds, threads);
    nn::Sequential toolbox{nn::Conv2d{1, 8, 3},          nn::GELU{},      nn::AvgPool2d{3, 2, 1, {.ceil_mode = true}},
                           nn::LeakyReLU{},              nn::MaxPool2d{2, 2, 0, {.ceil_mode = true}},
                           nn::AdaptiveAvgPool2d{{5, 4}}, nn::Flatten{},   nn::Linear{8 * 5 * 4, 32},
                           nn::Sigmoid{},                nn::Linear{32, 16}, nn::Tanh{},
                           nn::Linear{16, 10},           nn::LogSoftmax{}};
    ok &= allocates_nothing("activations and poolings of the toolbox", toolbox, ds, threads);
    auto augmented = ds;  // the loader's per-sample augmentation, then Normalize
    augmented.transforms = {data::RandomCrop(28, 2), data::RandomAffine(10, {.translate = {0.1, 0.1}, .scale = {0.9, 1.1}})};
    test::SeedCnn<> cnn_augmented;
    ok &= allocates_nothing("seed CNN on RandomCrop + RandomAffine", cnn_augmented, augmented, threads);
    nn::Sequential grouped{nn::Conv2d{1, 8, 3, {.padding = 2, .dilation = 2}}, nn::ReLU{},
                           nn::Conv2d{8, 8, 3, {.groups = 4}},                 nn::ReLU{}, nn::Flatten{},
                           nn::Linear{8 * 26 * 26, 10}};
    ok &= allocates_nothing("dilated and grouped Conv2d", grouped, ds, threads);
    nn::Sequential winograd{nn::Conv2d{1, 16, 3},  nn::ReLU{}, nn::Conv2d{16, 16, 3, {.padding = 1}}, nn::ReLU{},
                            nn::MaxPool2d{2},      nn::Flatten{}, nn::Linear{16 * 13 * 13, 10}};
    ok &= allocates_nothing("Conv2d by Winograd F(2x2, 3x3)", winograd, ds, threads);
    ForwardOnly forward_only;
    ok &= allocates_nothing("a forward-only model (recorded graph, functional ops, add, cat, view)", forward_only, ds,
                            threads);
  }
  ok &= optimizers_allocate_nothing(ds);
  // The counter itself works: a vector (operator new) and std::aligned_alloc (a Tensor's storage)
  // are both seen.
  const long before = allocations.load();
  std::vector<int> v(10);
  void* p = std::aligned_alloc(64, 256);
  const bool counter_works = allocations.load() == before + 2;
  std::free(p);
  std::printf("%s the counter sees an allocation\n", counter_works ? "ok  " : "FAIL");
  return ok && counter_works ? 0 : 1;
}

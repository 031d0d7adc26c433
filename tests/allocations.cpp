// A steady-state training step allocates nothing: every global operator new is counted (this
// binary replaces it), and Eigen is told to abort on any malloc of its own
// (EIGEN_RUNTIME_NO_MALLOC) while the steps run, such as its GEMM packing buffers when they
// outgrow EIGEN_STACK_ALLOCATION_LIMIT (include/ember/detail/eigen.hpp). A separate binary, so no other test's
// allocations interfere.
#define EIGEN_RUNTIME_NO_MALLOC
#include <ember/ember.hpp>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <new>

#include "models.hpp"

namespace {
std::atomic<long> allocations{0};
}

void* operator new(std::size_t n) {
  ++allocations;
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) { return operator new(n); }
void* operator new(std::size_t n, std::align_val_t a) {
  ++allocations;
  if (void* p = std::aligned_alloc(static_cast<std::size_t>(a), (n + static_cast<std::size_t>(a) - 1) /
                                                                    static_cast<std::size_t>(a) * static_cast<std::size_t>(a)))
    return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n, std::align_val_t a) { return operator new(n, a); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }

using namespace ember;

// Warms up over a whole epoch (so the last, smaller batch has been seen), then counts the
// allocations of the steps of a second epoch.
template <class Model>
bool allocates_nothing(const char* name, Model& model, const data::ImageDataset& ds, int threads) {
  set_num_threads(threads);
  data::DataLoader loader(ds, {.batch_size = 64, .shuffle = true, .seed = 0});
  optim::Adam optimizer(model.parameters(), {.lr = 1e-3});
  test::train_steps(model, optimizer, loader, -1);  // a whole epoch
  const long before = allocations.load();
  Eigen::internal::set_is_malloc_allowed(false);
  test::train_steps(model, optimizer, loader, -1);
  Eigen::internal::set_is_malloc_allowed(true);
  const long count = allocations.load() - before;
  std::printf("%s %s, %d thread(s): %ld allocations in the steps of an epoch of %lld samples\n", count ? "FAIL" : "ok  ",
              name, threads, count, static_cast<long long>(ds.size()));
  return count == 0;
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
  }
  // The counter itself works: a vector allocates.
  const long before = allocations.load();
  std::vector<int> v(10);
  const bool counter_works = allocations.load() == before + 1;
  std::printf("%s the counter sees an allocation\n", counter_works ? "ok  " : "FAIL");
  return ok && counter_works ? 0 : 1;
}

// Data-parallel training under mpirun (tests/distributed/run.sh starts it with 1, 2 and 4 ranks).
// Each mode checks on every rank; a failed check ends the job with a non-zero exit naming the rank.
//   equivalence          W ranks x batch b train as 1 process x batch W*b (SGD with momentum,
//                        20 steps; double: to 1e-12), whatever the buckets; parameters
//                        bit-identical on every rank; rank 0's initial state reaches every rank
//   save DIR STEPS       trains STEPS steps of an epoch on W ranks, rank 0 saves DIR/run.ckpt
//   resume DIR           W' ranks load it and finish the epoch: the parameters of one straight
//                        run of the epoch in one process (to 1e-12)
//   throw | uncaught | kill   the last rank fails after a few steps (an ember::Error caught in
//                        main, one left uncaught, SIGKILL) while the others are in an allreduce
#include <ember/distributed.hpp>  // first: it includes what it needs

#include <csignal>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include <ember/ember.hpp>
#include <ember/io.hpp>

#include "models.hpp"

using namespace ember;
using T = double;
namespace F = nn::functional;

namespace {

void check(const dist::Environment& env, bool ok, const std::string& what) {
  if (!ok) env.abort("check failed: " + what);
}

// A CNN with every kind of node: layers, functional ops, a layer used twice (shared weights), a
// nested model called twice whose layer is also called directly.
struct Block : nn::Module<T> {
  nn::Linear<T> fc{16, 16};
  EMBER_MODULE(Block, fc)
  const Tensor<T>& forward(const Tensor<T>& x) override { return F::relu(fc(x)); }
};
struct Net : nn::Module<T> {
  nn::Conv2d<T> conv1{1, 4, 3};
  nn::Linear<T> fc1{4 * 13 * 13, 16};
  nn::Linear<T> fc2{16, 16};
  Block block;
  nn::Linear<T> out{16, 10};
  EMBER_MODULE(Net, conv1, fc1, fc2, block, out)
  const Tensor<T>& forward(const Tensor<T>& x) override {
    const auto& h = F::relu(fc1(F::flatten(F::max_pool2d(F::relu(conv1(x)), 2))));
    const auto& r = F::add(F::relu(fc2(h)), h);        // a residual
    const auto& b = F::relu(block.fc(block(block(r))));  // the block twice, its layer once more
    return out(F::relu(fc2(b)));                       // fc2 again: its gradient is complete after this
  }
};

// The same program for every run: the data, the loss, one step.
struct Run {
  // 328 = 20.5 global batches: 21 steps an epoch, the last partial; a multiple of 4, so no rank pads.
  data::ImageDataset train = test::fake_mnist(328, 7);
  nn::CrossEntropyLoss<T> criterion;
  static constexpr index_t global_batch = 16;
  static constexpr double lr = 0.05, momentum = 0.9;

  template <class Model>
  void step(Model& model, optim::SGD<T>& sgd, const data::DataLoader<T>::Batch& batch) {
    const auto& logits = model(batch.images);
    criterion.forward(logits, batch.labels);
    sgd.zero_grad();
    model.backward(criterion.backward());
    sgd.step();
  }
  data::DataLoaderOptions loader_options(int rank, int world_size) const {
    return {.batch_size = global_batch / world_size, .shuffle = true, .seed = 3, .rank = rank, .world_size = world_size};
  }
  // One process, batch global_batch: `steps` steps (or the whole epoch) from rank 0's initial model.
  std::vector<Tensor<T>> reference(int steps) {
    manual_seed(1);
    Net model;
    optim::SGD<T> sgd(model.parameters(), {.lr = lr, .momentum = momentum});
    data::DataLoader<T> loader(train, loader_options(0, 1));
    int done = 0;
    for (const auto& batch : loader) {
      if (done++ == steps) break;
      step(model, sgd, batch);
    }
    std::vector<Tensor<T>> out;
    for (auto* p : model.parameters()) out.push_back(p->value);
    return out;
  }
};

double max_difference(nn::Module<T>& model, const std::vector<Tensor<T>>& expected) {
  const auto params = model.parameters();
  double worst = 0;
  for (std::size_t i = 0; i < params.size(); ++i)
    for (index_t j = 0; j < expected[i].numel(); ++j)
      worst = std::max(worst, std::abs(params[i]->value.data()[j] - expected[i].data()[j]));
  return worst;
}

// Rank 0's parameters, bit for bit, on every rank.
bool same_on_every_rank(const dist::Environment& env, nn::Module<T>& model) {
  int same = 1;
  for (auto* p : model.parameters()) {
    Tensor<T> root = p->value;
    dist::broadcast(root.data(), static_cast<std::size_t>(root.numel()));
    same &= std::memcmp(root.data(), p->value.data(), sizeof(T) * static_cast<std::size_t>(root.numel())) == 0;
  }
  return dist::all_reduce_sum(same) == env.world_size();
}

void equivalence(const dist::Environment& env) {
  Run run;
  constexpr int steps = 20;
  const auto expected = run.reference(steps);
  const struct {
    const char* name;
    dist::DataParallelOptions options;
    bool several;
  } configs[] = {{"one bucket", {}, false}, {"a bucket per few KB", {.bucket_cap_mb = 0.004, .first_bucket_mb = 0.001}, true}};
  for (const auto& c : configs) {
    manual_seed(1 + static_cast<std::uint64_t>(env.rank()));  // each rank starts elsewhere: DataParallel broadcasts
    Net model;
    dist::DataParallel<T> ddp(model, c.options);
    check(env, same_on_every_rank(env, model), std::string(c.name) + ": rank 0's parameters on every rank after construction");
    optim::SGD<T> sgd(model.parameters(), {.lr = Run::lr, .momentum = Run::momentum});
    data::DataLoader<T> loader(run.train, run.loader_options(env.rank(), env.world_size()));
    int done = 0;
    for (const auto& batch : loader) {
      if (done++ == steps) break;
      run.step(ddp, sgd, batch);
    }
    const double diff = max_difference(model, expected);
    if (env.is_main())
      std::printf("%s (%d buckets, %d started during the backward): largest difference from 1 process x batch %lld: "
                  "%.3g\n",
                  c.name, ddp.last_stats().buckets, ddp.last_stats().started_in_backward,
                  static_cast<long long>(Run::global_batch), diff);
    check(env, diff <= 1e-12, std::string(c.name) + ": parameters of 1 process x the global batch, to 1e-12; differ by " +
                                  std::to_string(diff));
    check(env, same_on_every_rank(env, model), std::string(c.name) + ": parameters bit-identical on every rank");
    if (c.several && env.world_size() > 1)
      check(env, ddp.last_stats().buckets > 2 && ddp.last_stats().started_in_backward >= 1,
            "several buckets, the first ones started while the backward ran");
  }
}

void save(const dist::Environment& env, const std::string& dir, int steps) {
  Run run;
  manual_seed(1);
  Net model;
  dist::DataParallel<T> ddp(model);
  optim::SGD<T> sgd(model.parameters(), {.lr = Run::lr, .momentum = Run::momentum});
  data::DataLoader<T> loader(run.train, run.loader_options(env.rank(), env.world_size()));
  int done = 0;
  for (const auto& batch : loader) {
    run.step(ddp, sgd, batch);
    if (++done == steps) {
      if (env.is_main()) io::save_checkpoint(model, sgd, loader, done, dir + "/run.ckpt");  // rank 0 alone
      env.barrier();  // the others wait for the file
      break;
    }
  }
}

void resume(const dist::Environment& env, const std::string& dir) {
  Run run;
  manual_seed(1 + static_cast<std::uint64_t>(env.rank()));
  Net model;
  dist::DataParallel<T> ddp(model);
  optim::SGD<T> sgd(model.parameters(), {.lr = Run::lr, .momentum = Run::momentum});
  data::DataLoader<T> loader(run.train, run.loader_options(env.rank(), env.world_size()));
  const std::int64_t step = io::load_checkpoint(model, sgd, loader, dir + "/run.ckpt");
  for (const auto& batch : loader) run.step(ddp, sgd, batch);  // the rest of the saved epoch
  const double diff = max_difference(model, run.reference(-1));
  if (env.is_main())
    std::printf("resumed at step %lld on %d ranks: largest difference from one straight run: %.3g\n",
                static_cast<long long>(step), env.world_size(), diff);
  check(env, diff <= 1e-12, "a resumed run ends as a straight one, to 1e-12; differs by " + std::to_string(diff));
  check(env, same_on_every_rank(env, model), "parameters bit-identical on every rank after the resume");
}

// The last rank fails at step 3 while the others go on into the next allreduce.
void fail(const dist::Environment& env, const std::string& how) {
  Run run;
  Net model;
  dist::DataParallel<T> ddp(model);
  optim::SGD<T> sgd(model.parameters(), {.lr = Run::lr});
  for (int epoch = 0; epoch < 1000; ++epoch) {
    data::DataLoader<T> loader(run.train, run.loader_options(env.rank(), env.world_size()));
    int done = 0;
    for (const auto& batch : loader) {
      if (env.rank() == env.world_size() - 1 && epoch == 0 && ++done == 3) {
        if (how == "kill") std::raise(SIGKILL);
        throw Error("MNIST: cannot open '/nowhere/train-images-idx3-ubyte' (a file missing on one rank)");
      }
      run.step(ddp, sgd, batch);
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  dist::Environment env(argc, argv);
  set_num_threads(1);
  const std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "uncaught") fail(env, mode);  // no catch: the terminate handler ends the job
  try {
    if (mode == "equivalence") equivalence(env);
    else if (mode == "save" && argc == 4) save(env, argv[2], std::stoi(argv[3]));
    else if (mode == "resume" && argc == 3) resume(env, argv[2]);
    else if (mode == "throw" || mode == "kill") fail(env, mode);
    else env.abort("usage: ember_distributed_tests equivalence | save DIR STEPS | resume DIR | throw | uncaught | kill");
  } catch (const std::exception& e) {
    env.abort(e.what());
  }
  return 0;
}

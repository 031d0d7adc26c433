// mnist_cnn's training, data-parallel over MPI: the same program on every rank, started by mpirun
//   mpirun -np 2 build/examples/mnist_distributed --model cnn
// Each rank trains on its shard of every batch (--batch-size is the batch over all ranks, split
// between them), the gradients are averaged over the ranks after each backward (dist::DataParallel),
// every rank tests its part of the test set and the accuracy is summed over them; rank 0 alone
// prints and writes the checkpoint, which a run with any number of ranks resumes.
#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <sstream>
#include <string>

#include <ember/distributed.hpp>
#include <ember/ember.hpp>
#include <ember/io.hpp>

#include "models.hpp"

using namespace ember;

struct Options {
  std::string data, model = "cnn", checkpoint;
  int epochs = 3, batch_size = 64, threads = 0;
  double lr = 1e-3;
  std::uint64_t seed = 0;
};

int train(const dist::Environment& env, nn::Module<float>& model, const Options& o) {
  const std::string dir = data::mnist_dir(o.data);
  const auto train = data::Mnist::load(dir, data::Split::train);
  const auto test = data::Mnist::load(dir, data::Split::test);
  const int ranks = env.world_size();
  if (o.batch_size % ranks != 0)
    throw Error(detail::concat("--batch-size ", o.batch_size, " is not a multiple of the ", ranks,
                               " ranks (each rank takes an equal part of every batch)"));

  data::DataLoader loader(train, {.batch_size = o.batch_size / ranks, .shuffle = true, .seed = o.seed,
                                  .rank = env.rank(), .world_size = ranks});
  dist::DataParallel ddp(model);  // rank 0's initial parameters on every rank
  nn::CrossEntropyLoss criterion;
  optim::Adam optimizer(model.parameters(), {.lr = o.lr});
  int first_epoch = 1;
  if (!o.checkpoint.empty() && std::filesystem::exists(o.checkpoint)) {  // every rank reads it
    const std::int64_t step = io::load_checkpoint(model, optimizer, loader, o.checkpoint);
    first_epoch = static_cast<int>(step / loader.size()) + 1;
    if (env.is_main()) std::printf("resumed from %s after epoch %d\n", o.checkpoint.c_str(), first_epoch - 1);
  }
  if (env.is_main())
    std::printf("%s on %d ranks x %d threads: batch %d (%d a rank), Adam lr %g\n", o.model.c_str(), ranks,
                get_num_threads(), o.batch_size, o.batch_size / ranks, o.lr);

  for (int epoch = first_epoch; epoch <= o.epochs; ++epoch) {
    const auto start = std::chrono::steady_clock::now();
    double loss_sum = 0;
    for (const auto& [images, labels] : loader) {
      const auto& logits = ddp(images);
      loss_sum += criterion.forward(logits, labels);
      optimizer.zero_grad();
      ddp.backward(criterion.backward());  // grads: the mean over the ranks
      optimizer.step();
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const double loss = dist::all_reduce_mean(loss_sum / static_cast<double>(loader.size()));
    const double accuracy = dist::accuracy(model, test);  // each rank tests its part
    if (env.is_main()) {
      std::printf("epoch %2d  train loss %.4f  test accuracy %.2f%%  %.2f s\n", epoch, loss, 100 * accuracy, seconds);
      std::fflush(stdout);
      if (!o.checkpoint.empty()) io::save_checkpoint(model, optimizer, loader, std::int64_t{epoch} * loader.size(), o.checkpoint);
    }
    env.barrier();  // the others wait while rank 0 writes
  }
  if (env.is_main()) std::printf("final test accuracy %.2f%%\n", 100 * dist::accuracy(model, test));
  else dist::accuracy(model, test);  // a collective: every rank takes part
  return 0;
}

int main(int argc, char** argv) {
  dist::Environment env(argc, argv);  // outside the try: an error below ends every rank through env.abort
  Options o;
  CLI::App app{"Trains an MNIST model data-parallel on the ranks mpirun starts"};
  app.add_option("--data", o.data, "MNIST directory (default: $MNIST_DIR, then data/mnist)");
  app.add_option("--model", o.model, "cnn (the seed CNN), lenet or mlp (784-128-10)")
      ->check(CLI::IsMember({"cnn", "lenet", "mlp"}));
  app.add_option("--epochs", o.epochs, "epochs")->check(CLI::PositiveNumber);
  app.add_option("--batch-size", o.batch_size, "the batch over all ranks, split between them")->check(CLI::PositiveNumber);
  app.add_option("--lr", o.lr, "Adam's learning rate")->check(CLI::PositiveNumber);
  app.add_option("--seed", o.seed, "seed of the initial weights and of the shuffle");
  app.add_option("--threads", o.threads,
                 "OpenMP threads a rank (default: the cores the rank may run on; mpirun binds each of 1 or 2 "
                 "ranks to one core)")->check(CLI::NonNegativeNumber);
  app.add_option("--checkpoint", o.checkpoint, "written by rank 0 after each epoch; resumed from when it exists");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    std::ostringstream quiet;  // every rank parses the same flags and exits alike; rank 0 says why
    return env.is_main() ? app.exit(e) : app.exit(e, quiet, quiet);
  }
  if (o.threads > 0) set_num_threads(o.threads);  // else libgomp's default: the CPUs of this process's affinity
  set_flush_denormal(true);
  manual_seed(o.seed);
  try {
    if (o.model == "mlp") {
      auto model = make_mlp({128});
      return train(env, model, o);
    }
    if (o.model == "lenet") {
      auto model = make_lenet();
      return train(env, model, o);
    }
    Net model;
    return train(env, model, o);
  } catch (const std::exception& e) {
    env.abort(e.what());
  }
}

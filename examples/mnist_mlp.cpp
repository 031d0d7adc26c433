// The PyTorch MNIST MLP notebook, in C++: Flatten -> Linear(784, 128) -> ReLU -> Linear(128, 10),
// CrossEntropyLoss, Adam(lr=1e-3), batch 64 shuffled, 10 epochs. Flags give the other seeds:
//   --hidden 50            784-50-10, Adam
//   --hidden 512,256       784-512-256-10, Adam
//   --hidden 128,64 --optimizer sgd --lr 0.01   784-128-64-10, SGD
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "common.hpp"
#include "report.hpp"

using namespace ember;

// make_mlp(hidden), the notebook's model, is in models.hpp, shared with predict.

int main(int argc, char** argv) {
  const Flags flags = parse_flags(Example::mlp, argc, argv);
  apply_common_flags(flags);

  try {
    const std::string dir = data::mnist_dir(flags.data);
    auto train = data::Mnist::load(dir, data::Split::train);
    auto test = data::Mnist::load(dir, data::Split::test);
    data::DataLoader loader(train, {.batch_size = flags.batch_size, .shuffle = true, .seed = flags.seed});

    auto model = make_mlp(flags.hidden);
    nn::CrossEntropyLoss criterion;
    auto optimizer = make_optimizer(flags.optimizer, model.parameters(), flags.lr);  // optim::Adam or optim::SGD
    std::printf("MLP 784-");
    for (int h : flags.hidden) std::printf("%d-", h);
    std::printf("10, %s lr %g, batch %d: %lld parameters, %d threads\n", flags.optimizer.c_str(), flags.lr,
                flags.batch_size, static_cast<long long>(nn::num_parameters(model)), get_num_threads());
    print_summary(model, flags);

    if (flags.overfit_batch > 0) return overfit_batch(model, *optimizer, train, flags.overfit_batch);
    const auto test_batch = flags.dry_run ? head(test, flags.batch_size) : data::ImageDataset{};
    const auto& tested = flags.dry_run ? test_batch : test;  // --dry-run: one batch of everything

    std::optional<Report> report;  // --report DIR
    if (!flags.report.empty()) report.emplace(flags.report);
    auto bar = make_progress(flags);
    for (int epoch = resume(model, *optimizer, loader, flags); epoch <= flags.epochs; ++epoch) {
      bar.start(epoch, flags.dry_run ? 1 : loader.size());
      std::int64_t train_correct = 0, train_seen = 0;  // for --report
      std::int64_t step = std::int64_t{epoch - 1} * loader.size();
      for (const auto& [images, labels] : loader) {
        const auto& logits = model(images);
        float loss = criterion.forward(logits, labels);
        check_loss(loss, epoch, ++step, flags);  // nan: stop, keeping the last checkpoint
        if (report) train_correct += count_correct(logits, labels), train_seen += images.size(0);
        optimizer->zero_grad();
        model.backward(criterion.backward());
        optimizer->step();
        bar.step(loss, images.size(0));
        if (flags.dry_run) break;
      }
      const double seconds = bar.seconds();
      const double accuracy = metrics::accuracy(model, tested);
      bar.finish(epoch_summary(epoch, bar.mean_loss(), accuracy, seconds));
      if (report)
        report->add_epoch(model, tested, {.epoch = epoch, .train_loss = bar.mean_loss(),
                                          .train_accuracy = static_cast<double>(train_correct) / static_cast<double>(train_seen),
                                          .seconds = seconds});
      save_epoch(model, *optimizer, loader, flags, epoch);
      if (flags.dry_run) return dry_run_save(model, flags);
    }
    std::printf("final test accuracy %.2f%%\n", 100 * metrics::accuracy(model, test));
  } catch (const Error& e) {
    std::fprintf(stderr, "mnist_mlp: error: %s\n", e.what());
    return 1;
  }
}

// --report DIR: what a notebook would show, written after every epoch into DIR.
//   metrics.csv        epoch,train_loss,train_accuracy,test_loss,test_accuracy,seconds (a row per epoch)
//   curves.png         loss and accuracy per epoch, train and test
//   confusion.png      the 10x10 test confusion matrix as a heat map with the counts, per-class accuracy
//   confusion.csv      the same counts, true label per row, predicted per column
//   misclassified.png  the first misclassified test digits, each labelled true / predicted
//   misclassified.csv  index,true,predicted of every misclassified test digit, in test-set order
// The pictures are drawn with PLplot (Debian libplplot-dev, plplot-driver-cairo) in report.cpp,
// compiled once; ember itself needs only Eigen. A build without PLplot has no --report.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <ember/ember.hpp>

// One epoch's numbers: the training loss and accuracy are running averages over the epoch's
// batches (as the notebooks print them), the test ones are measured after the epoch.
struct EpochRecord {
  int epoch = 0;
  double train_loss = 0, train_accuracy = 0, test_loss = 0, test_accuracy = 0, seconds = 0;
};

// The test set through the model in eval mode (the mode is restored): the mean cross-entropy,
// the accuracy and each sample's predicted class.
struct TestResults {
  double loss = 0, accuracy = 0;
  std::vector<std::int64_t> predicted;  // predicted: (N,)
};
TestResults evaluate(ember::nn::Module<float>& model, const ember::data::ImageDataset& test);

// How many rows of the logits have their largest entry at the label (the running train accuracy).
// logits: (N, C), labels: (N,)
std::int64_t count_correct(const ember::Tensor<float>& logits, const ember::Tensor<std::int64_t>& labels);

// True when this build has PLplot (report.cpp compiled with EMBER_HAVE_PLPLOT).
bool report_available();

class Report {
 public:
  // Creates the folder if needed; throws ember::Error when it cannot or when the build lacks PLplot.
  explicit Report(std::string dir);

  // Evaluates the model on the test set, appends the epoch and rewrites every file in the folder
  // (each written to a temporary name, then renamed). Returns the epoch's completed record. The
  // first call keeps the rows of the folder's metrics.csv before its epoch (a --resume goes on).
  EpochRecord add_epoch(ember::nn::Module<float>& model, const ember::data::ImageDataset& test, EpochRecord record);

 private:
  std::string dir_;
  std::vector<EpochRecord> history_;
};

// Checks what `mnist_cnn --epochs E --report DIR --save DIR/model.safetensors` wrote (see
// examples/report.hpp), against MNIST and against the saved model run again here:
//   metrics.csv        E rows, epochs 1..E, losses positive, accuracies in [0, 1], the last
//                      test_accuracy that of the saved model (metrics::accuracy)
//   confusion.csv      10x10 counts summing to 10,000, each row the number of test digits with that
//                      label, the diagonal over 10,000 equal to test_accuracy
//   misclassified.csv  exactly the test digits the saved model gets wrong, each with its MNIST
//                      label and the model's prediction, in test-set order
//   *.png              PNG files of plausible dimensions
// Usage: ember_report_check DIR EPOCHS (MNIST from MNIST_DIR). Prints what failed, exits 1.
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <ember/ember.hpp>
#include <ember/io.hpp>

using namespace ember;

namespace {

int failures = 0;

void expect(bool ok, const std::string& what) {
  std::printf("%s: %s\n", ok ? "ok  " : "FAIL", what.c_str());
  failures += !ok;
}

std::vector<std::vector<std::string>> read_csv(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw Error("cannot read " + path);
  std::vector<std::vector<std::string>> rows;
  for (std::string line; std::getline(in, line);) {
    std::vector<std::string> cells;
    std::stringstream s(line);
    for (std::string cell; std::getline(s, cell, ',');) cells.push_back(cell);
    rows.push_back(cells);
  }
  return rows;
}

// The PNG signature and the IHDR chunk's width and height (big-endian, bytes 16..23).
bool png_size(const std::string& path, std::uint32_t& width, std::uint32_t& height) {
  std::ifstream in(path, std::ios::binary);
  unsigned char header[24] = {};
  if (!in.read(reinterpret_cast<char*>(header), 24)) return false;
  const unsigned char signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  if (!std::equal(signature, signature + 8, header) || std::string(header + 12, header + 16) != "IHDR") return false;
  width = (std::uint32_t{header[16]} << 24) | (header[17] << 16) | (header[18] << 8) | header[19];
  height = (std::uint32_t{header[20]} << 24) | (header[21] << 16) | (header[22] << 8) | header[23];
  return true;
}

// The CNN of the seed notebook, as examples/mnist_cnn.cpp defines it (same state_dict names),
// written again here so the check does not trust the example's code.
struct Net : nn::Module<float> {
  nn::Conv2d<> conv1{1, 16, 3};
  nn::ReLU<> relu;
  nn::MaxPool2d<> pool{2};
  nn::Flatten<> flatten;
  nn::Linear<> fc{16 * 13 * 13, 10};
  const Tensor<>& forward(const Tensor<>& x) override {
    return fc.forward(flatten.forward(pool.forward(relu.forward(conv1.forward(x)))));
  }
  const Tensor<>& backward(const Tensor<>&) override { throw Error("not used"); }
  void visit_state(nn::StateVisitor<float>& v, const nn::Name* prefix = nullptr) override {
    nn::visit_state_of(v, prefix, "conv1", conv1, "fc", fc);
  }
  void print(std::ostream& out, int = 0) const override { out << "Net"; }
};

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: ember_report_check DIR EPOCHS\n");
    return 2;
  }
  const std::string dir = argv[1];
  const int epochs = std::stoi(argv[2]);
  try {
    const auto test = data::Mnist::load(data::mnist_dir(""), data::Split::test);
    Net model;
    io::load(model, dir + "/model.safetensors");

    // The saved model's predictions, one sample at a time through its own forward.
    std::vector<std::int64_t> predicted;
    data::DataLoader<float> loader(test, {.batch_size = 500});
    for (const auto& [images, labels] : loader) {
      const auto& logits = model.forward(images);
      for (index_t i = 0; i < logits.size(0); ++i) {
        const float* row = logits.data() + i * 10;
        predicted.push_back(std::max_element(row, row + 10) - row);
      }
    }
    std::int64_t right = 0;
    for (index_t i = 0; i < test.size(); ++i) right += predicted[i] == test.labels[i];
    const double model_accuracy = metrics::accuracy(model, test);
    expect(std::abs(model_accuracy - static_cast<double>(right) / 1e4) < 1e-12,
           "metrics::accuracy of the saved model agrees with its predictions counted here");

    const auto m = read_csv(dir + "/metrics.csv");
    expect(!m.empty() && m[0] == std::vector<std::string>{"epoch", "train_loss", "train_accuracy", "test_loss",
                                                         "test_accuracy", "seconds"},
           "metrics.csv has the header epoch,train_loss,train_accuracy,test_loss,test_accuracy,seconds");
    expect(m.size() == static_cast<std::size_t>(epochs) + 1, "metrics.csv has a row per epoch (" +
                                                              std::to_string(m.size() - 1) + " for " + argv[2] + ")");
    double test_accuracy = -1;
    for (std::size_t r = 1; r < m.size(); ++r) {
      bool ok = m[r].size() == 6 && std::stoi(m[r][0]) == static_cast<int>(r);
      for (int c = 1; ok && c < 6; ++c) ok = std::stod(m[r][c]) > 0;
      ok = ok && std::stod(m[r][2]) <= 1 && std::stod(m[r][4]) <= 1;
      expect(ok, "metrics.csv row " + std::to_string(r) + " is epoch " + std::to_string(r) +
                     " with positive losses and seconds and accuracies in (0, 1]");
      if (m[r].size() == 6) test_accuracy = std::stod(m[r][4]);
    }
    expect(std::abs(test_accuracy - model_accuracy) < 1e-6,
           "the last test_accuracy " + std::to_string(test_accuracy) + " is the saved model's " +
               std::to_string(model_accuracy));

    const auto cm = read_csv(dir + "/confusion.csv");
    expect(cm.size() == 11 && cm[0].size() == 11, "confusion.csv has a header and 10 rows of a label and 10 counts");
    std::int64_t total = 0, diagonal = 0;
    bool rows_ok = true;
    for (std::size_t i = 1; i < cm.size() && cm.size() == 11; ++i) {
      std::int64_t row = 0;
      for (std::size_t j = 1; j < cm[i].size(); ++j) row += std::stoll(cm[i][j]);
      if (cm[i].size() == 11) diagonal += std::stoll(cm[i][i]);
      total += row;
      std::int64_t labelled = 0;
      for (index_t k = 0; k < test.size(); ++k) labelled += test.labels[k] == i - 1;
      rows_ok = rows_ok && row == labelled;
    }
    expect(total == 10000, "the confusion matrix counts sum to 10,000 (" + std::to_string(total) + ")");
    expect(rows_ok, "each row of the confusion matrix sums to the number of test digits with that label");
    expect(std::abs(static_cast<double>(diagonal) / 1e4 - test_accuracy) < 1e-6,
           "the diagonal (" + std::to_string(diagonal) + ") over 10,000 is the test accuracy");
    expect(diagonal == right, "the diagonal is the number the saved model gets right (" + std::to_string(right) + ")");

    const auto wrong = read_csv(dir + "/misclassified.csv");
    expect(!wrong.empty() && wrong[0] == std::vector<std::string>{"index", "true", "predicted"},
           "misclassified.csv has the header index,true,predicted");
    std::vector<std::int64_t> expected;
    for (index_t i = 0; i < test.size(); ++i)
      if (predicted[i] != test.labels[i]) expected.push_back(i);
    bool listed_ok = wrong.size() == expected.size() + 1;
    for (std::size_t r = 1; listed_ok && r < wrong.size(); ++r) {
      const std::int64_t index = std::stoll(wrong[r][0]);
      listed_ok = index == expected[r - 1] && std::stoll(wrong[r][1]) == test.labels[index] &&
                  std::stoll(wrong[r][2]) == predicted[index] && predicted[index] != test.labels[index];
    }
    expect(listed_ok, "misclassified.csv lists exactly the " + std::to_string(expected.size()) +
                          " test digits the saved model gets wrong, with their labels and its predictions");

    for (const char* name : {"curves.png", "confusion.png", "misclassified.png"}) {
      std::uint32_t width = 0, height = 0;
      const bool png = png_size(dir + "/" + name, width, height);
      expect(png && width >= 600 && width <= 2000 && height >= 400 && height <= 2000,
             std::string(name) + " is a PNG of " + std::to_string(width) + "x" + std::to_string(height) +
                 " (600..2000 x 400..2000)");
    }
  } catch (const std::exception& e) {
    std::printf("FAIL: %s\n", e.what());
    return 1;
  }
  return failures ? 1 : 0;
}

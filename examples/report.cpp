// --report DIR (see report.hpp): the CSV files and, with PLplot's pngcairo driver, the pictures.
#include "report.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <utility>

#ifdef EMBER_HAVE_PLPLOT
#include <plplot/plplot.h>
#endif

using namespace ember;

std::int64_t count_correct(const Tensor<float>& logits, const Tensor<std::int64_t>& labels) {
  const index_t n = logits.size(0), c = logits.size(1);
  std::int64_t correct = 0;
  for (index_t i = 0; i < n; ++i) {
    const float* row = logits.data() + i * c;
    correct += std::max_element(row, row + c) - row == labels.data()[i];
  }
  return correct;
}

TestResults evaluate(nn::Module<float>& model, const data::ImageDataset& test) {
  const bool was_training = model.is_training();
  model.eval();
  TestResults r;
  r.predicted.reserve(static_cast<std::size_t>(test.size()));
  data::DataLoader<float> loader(test, {.batch_size = 256});
  nn::CrossEntropyLoss criterion;
  double total = 0;
  std::int64_t correct = 0;
  for (const auto& [images, labels] : loader) {
    const auto& logits = model(images);
    total += static_cast<double>(criterion.forward(logits, labels)) * static_cast<double>(logits.size(0));
    const index_t c = logits.size(1);
    for (index_t i = 0; i < logits.size(0); ++i) {
      const float* row = logits.data() + i * c;
      r.predicted.push_back(std::max_element(row, row + c) - row);
      correct += r.predicted.back() == labels.data()[i];
    }
  }
  model.train(was_training);
  r.loss = total / static_cast<double>(test.size());
  r.accuracy = static_cast<double>(correct) / static_cast<double>(test.size());
  return r;
}

namespace {

namespace fs = std::filesystem;

// Writes through a temporary file renamed over `path`, so a reader never sees half a file.
template <class F>
void write_atomically(const fs::path& path, F&& write) {
  const fs::path tmp = path.string() + ".tmp";
  write(tmp);
  fs::rename(tmp, path);
}

void write_text(const fs::path& path, const std::string& text) {
  write_atomically(path, [&](const fs::path& tmp) {
    std::ofstream out(tmp, std::ios::binary);
    out << text;
    ember::detail::check(static_cast<bool>(out.flush()), "--report: cannot write ", tmp.string());
  });
}

std::string format(const char* fmt, auto... args) {
  char buffer[256];
  std::snprintf(buffer, sizeof buffer, fmt, args...);
  return buffer;
}

// The rows of an earlier metrics.csv before `epoch`: a run resumed from a checkpoint (--resume)
// into the same folder keeps the epochs before it; a fresh run starts at epoch 1 and keeps none.
std::vector<EpochRecord> earlier_epochs(const fs::path& path, int epoch) {
  std::vector<EpochRecord> rows;
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);  // the header
  while (std::getline(in, line)) {
    EpochRecord r;
    if (std::sscanf(line.c_str(), "%d,%lf,%lf,%lf,%lf,%lf", &r.epoch, &r.train_loss, &r.train_accuracy, &r.test_loss,
                    &r.test_accuracy, &r.seconds) == 6 &&
        r.epoch < epoch && (rows.empty() || r.epoch > rows.back().epoch))
      rows.push_back(r);
  }
  return rows;
}

#ifdef EMBER_HAVE_PLPLOT

// The palette of every figure (cmap0): white paper, black ink, matplotlib's blue and orange.
enum Color { paper = 0, ink = 1, train_color = 2, test_color = 3, white = 4, grid_color = 5, faint = 6 };

// One PNG drawn by PLplot's pngcairo driver: begins the page in the constructor, writes the file
// (through a temporary name) in the destructor.
class Figure {
 public:
  Figure(const fs::path& path, int width, int height, int subpages_x = 1, int subpages_y = 1)
      : path_(path), tmp_(path.string() + ".tmp") {
    plsdev("pngcairo");
    plsfnam(tmp_.c_str());
    plspage(0, 0, width, height, 0, 0);
    plscol0(paper, 255, 255, 255);
    plscol0(ink, 0, 0, 0);
    plscol0(train_color, 31, 119, 180);
    plscol0(test_color, 255, 127, 14);
    plscol0(white, 255, 255, 255);
    plscol0(grid_color, 220, 220, 220);
    plscol0(faint, 170, 170, 170);
    plssub(subpages_x, subpages_y);
    plinit();
    plfontld(1);
    plcol0(ink);
  }
  ~Figure() {
    plend();
    std::error_code error;
    fs::rename(tmp_, path_, error);
  }
  Figure(const Figure&) = delete;
  Figure& operator=(const Figure&) = delete;

 private:
  fs::path path_;
  std::string tmp_;
};

// A line with dots through (epoch, value) for train and test, with a legend, on the current subpage.
void draw_curves(const std::vector<EpochRecord>& history, double EpochRecord::*train, double EpochRecord::*test,
                 double scale, const char* ylabel, const char* title, bool legend_bottom) {
  const int n = static_cast<int>(history.size());
  std::vector<PLFLT> x(n), ytrain(n), ytest(n);
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  for (int i = 0; i < n; ++i) {
    x[i] = history[i].epoch;
    ytrain[i] = history[i].*train * scale;
    ytest[i] = history[i].*test * scale;
    lo = std::min({lo, ytrain[i], ytest[i]});
    hi = std::max({hi, ytrain[i], ytest[i]});
  }
  const double pad = std::max((hi - lo) * 0.12, std::abs(hi) * 0.02 + 1e-6);
  const double first = history.front().epoch, last = std::max(history.back().epoch, history.front().epoch + 1);
  pladv(0);
  plvpor(0.16, 0.96, 0.15, 0.88);
  plwind(first - 0.3, last + 0.3, lo - pad, hi + pad);
  plcol0(grid_color);
  plwidth(1);
  plbox("g", 1, 0, "g", 0, 0);
  plcol0(ink);
  plbox("bcnst", last - first > 12 ? 0 : 1, 1, "bcnstv", 0, 0);
  plmtex("b", 3.0, 0.5, 0.5, "epoch");
  plmtex("l", 4.6, 0.5, 0.5, ylabel);
  plschr(0, 1.15);
  plmtex("t", 1.5, 0.5, 0.5, title);
  plschr(0, 1.0);
  const PLFLT* ys[2] = {ytrain.data(), ytest.data()};
  const int colors[2] = {train_color, test_color};
  for (int k = 0; k < 2; ++k) {
    plcol0(colors[k]);
    plwidth(2.5);
    if (n > 1) plline(n, x.data(), ys[k]);
    plssym(0, 0.9);
    plstring(n, x.data(), ys[k], "\u25CF");  // a filled dot at every epoch
  }
  plwidth(1);
  plcol0(ink);

  PLINT opts[2] = {PL_LEGEND_LINE | PL_LEGEND_SYMBOL, PL_LEGEND_LINE | PL_LEGEND_SYMBOL};
  const char* text[2] = {"train", "test"};
  PLINT text_colors[2] = {ink, ink}, line_colors[2] = {train_color, test_color}, line_styles[2] = {1, 1};
  PLINT symbol_colors[2] = {train_color, test_color}, symbol_numbers[2] = {1, 1};
  PLFLT line_widths[2] = {2.5, 2.5}, symbol_scales[2] = {0.9, 0.9};
  const char* symbols[2] = {"\u25CF", "\u25CF"};
  PLFLT width, height;
  pllegend(&width, &height, PL_LEGEND_BACKGROUND | PL_LEGEND_BOUNDING_BOX,
           PL_POSITION_RIGHT | PL_POSITION_INSIDE | (legend_bottom ? PL_POSITION_BOTTOM : PL_POSITION_TOP), 0.03, 0.03,
           0.08, paper, grid_color, 1, 0, 0, 2, opts, 1.0, 1.0, 2.0, 0.0, text_colors, text, nullptr, nullptr, nullptr,
           nullptr, line_colors, line_styles, line_widths, symbol_colors, symbol_scales, symbol_numbers, symbols);
}

void draw_curves_png(const fs::path& path, const std::vector<EpochRecord>& history) {
  Figure figure(path, 1100, 430, 2, 1);
  draw_curves(history, &EpochRecord::train_loss, &EpochRecord::test_loss, 1, "cross-entropy loss", "Loss", false);
  draw_curves(history, &EpochRecord::train_accuracy, &EpochRecord::test_accuracy, 100, "accuracy (%)", "Accuracy", true);
}

// Counts in the cells, coloured by the fraction of the true class (square root, so a handful of
// errors still shows), per-class accuracy on the right.
void draw_confusion_png(const fs::path& path, const std::vector<std::vector<index_t>>& counts, int epoch,
                        double accuracy) {
  const int k = static_cast<int>(counts.size());
  Figure figure(path, 780, 700);
  // cmap1: white to matplotlib's dark "Blues" end.
  PLFLT pos[3] = {0, 0.5, 1}, r[3] = {1, 0.42, 0.03}, g[3] = {1, 0.68, 0.19}, b[3] = {1, 0.84, 0.42};
  plscmap1l(1, 3, pos, r, g, b, nullptr);
  pladv(0);
  plvpor(0.1, 0.84, 0.1, 0.86);
  plwind(0, k, k, 0);  // row 0 at the top
  const auto per_class = metrics::per_class_accuracy(counts);
  plschr(0, 0.95);
  for (int i = 0; i < k; ++i) {
    index_t row_total = 0;
    for (index_t c : counts[i]) row_total += c;
    for (int j = 0; j < k; ++j) {
      const double fraction = row_total ? static_cast<double>(counts[i][j]) / static_cast<double>(row_total) : 0;
      const double shade = std::sqrt(fraction);
      PLFLT cx[4] = {PLFLT(j), PLFLT(j + 1), PLFLT(j + 1), PLFLT(j)}, cy[4] = {PLFLT(i), PLFLT(i), PLFLT(i + 1), PLFLT(i + 1)};
      plcol1(shade);
      plfill(4, cx, cy);
      plcol0(counts[i][j] == 0 ? faint : shade > 0.55 ? white : ink);
      plptex(j + 0.5, i + 0.62, 1, 0, 0.5, std::to_string(counts[i][j]).c_str());
    }
  }
  plcol0(ink);
  plschr(0, 1.0);
  plbox("bc", 0, 0, "bc", 0, 0);
  for (int j = 0; j < k; ++j) {
    const double at = (j + 0.5) / k;
    plmtex("b", 1.4, at, 0.5, std::to_string(j).c_str());
    plmtex("lv", 0.8, 1 - at, 1.0, std::to_string(j).c_str());
    plmtex("rv", 0.8, 1 - at, 0.0, std::isnan(per_class[j]) ? "-" : format("%.1f%%", 100 * per_class[j]).c_str());
  }
  plmtex("b", 3.2, 0.5, 0.5, "predicted class");
  plmtex("l", 2.8, 0.5, 0.5, "true class");
  plmtex("t", 0.6, 1.02, 0.0, "per class");
  plschr(0, 1.2);
  plmtex("t", 2.4, 0.5, 0.5, format("Test set confusion matrix, epoch %d (accuracy %.2f%%)", epoch, 100 * accuracy).c_str());
  plschr(0, 1.0);
}

// The first misclassified test digits, dark ink on white, "true T, predicted P" above each.
void draw_misclassified_png(const fs::path& path, const data::ImageDataset& test,
                            const std::vector<std::int64_t>& wrong, const std::vector<std::int64_t>& predicted, int epoch) {
  constexpr int columns = 8, rows = 4;
  const int shown = std::min<int>(static_cast<int>(wrong.size()), columns * rows);
  constexpr int width = 1200, height = 700;
  Figure figure(path, width, height);
  plscmap1n(256);
  PLFLT pos[2] = {0, 1}, grey[2] = {1, 0};  // 0 -> white paper, 255 -> black ink
  plscmap1l(1, 2, pos, grey, grey, grey, nullptr);
  pladv(0);
  plvpor(0, 1, 0, 1);
  plwind(0, 1, 0, 1);
  plschr(0, 1.1);
  plptex(0.5, 0.955, 1, 0, 0.5,
         format("Misclassified test digits after epoch %d (the first %d of %zu)", epoch, shown,
                wrong.size()).c_str());
  const index_t h = test.height, w = test.width;
  std::vector<PLFLT> column_data(static_cast<std::size_t>(w * h));
  std::vector<PLFLT*> image(static_cast<std::size_t>(w));
  const double cell_w = 1.0 / columns, top = 0.91, cell_h = top / rows;
  plschr(0, 0.7);
  for (int n = 0; n < shown; ++n) {
    const std::int64_t index = wrong[n];
    const std::uint8_t* pixels = test.pixels.data() + index * test.image_numel();
    for (index_t x = 0; x < w; ++x) {
      image[x] = column_data.data() + x * h;
      for (index_t y = 0; y < h; ++y) image[x][y] = pixels[(h - 1 - y) * w + x];  // PLplot's y goes up
    }
    const int r = n / columns, c = n % columns;
    // The digit is a square of 0.8 of the cell's height, centred under its label.
    const double size_y = cell_h * 0.74, size_x = size_y * height / width;
    const double x0 = c * cell_w + (cell_w - size_x) / 2, y0 = top - (r + 1) * cell_h + cell_h * 0.04;
    plimage(image.data(), w, h, x0, x0 + size_x, y0, y0 + size_y, 0, 255, x0, x0 + size_x, y0, y0 + size_y);
    PLFLT bx[5] = {x0, x0 + size_x, x0 + size_x, x0, x0}, by[5] = {y0, y0, y0 + size_y, y0 + size_y, y0};
    plcol0(grid_color);
    plline(5, bx, by);
    plcol0(ink);
    plptex(c * cell_w + cell_w / 2, y0 + size_y + cell_h * 0.06, 1, 0, 0.5,
           format("true %d, pred %d", test.labels[index], static_cast<int>(predicted[index])).c_str());
  }
}

#endif  // EMBER_HAVE_PLPLOT

}  // namespace

bool report_available() {
#ifdef EMBER_HAVE_PLPLOT
  // The library may be there without its cairo driver (Debian's plplot-driver-cairo).
  std::vector<const char*> menu(128), names(128);
  const char** menu_p = menu.data();
  const char** names_p = names.data();
  int n = 128;
  plgDevs(&menu_p, &names_p, &n);
  for (int i = 0; i < n; ++i)
    if (std::string(names[i]) == "pngcairo") return true;
  return false;
#else
  return false;
#endif
}

Report::Report(std::string dir) : dir_(std::move(dir)) {
  ember::detail::check(report_available(), "--report is unavailable: this build has no PLplot with its pngcairo driver (apt-get "
                       "install libplplot-dev plplot-driver-cairo, then configure again)");
  std::error_code error;
  fs::create_directories(dir_, error);
  ember::detail::check(fs::is_directory(dir_), "--report: cannot create the folder ", dir_,
                       error ? " (" + error.message() + ")" : std::string());
}

EpochRecord Report::add_epoch(nn::Module<float>& model, const data::ImageDataset& test, EpochRecord record) {
  const TestResults results = evaluate(model, test);
  record.test_loss = results.loss;
  record.test_accuracy = results.accuracy;
  if (history_.empty()) history_ = earlier_epochs(fs::path(dir_) / "metrics.csv", record.epoch);
  history_.push_back(record);
  const fs::path dir(dir_);

  std::string csv = "epoch,train_loss,train_accuracy,test_loss,test_accuracy,seconds\n";
  for (const EpochRecord& e : history_)
    csv += format("%d,%.6f,%.6f,%.6f,%.6f,%.3f\n", e.epoch, e.train_loss, e.train_accuracy, e.test_loss,
                  e.test_accuracy, e.seconds);
  write_text(dir / "metrics.csv", csv);

  const index_t k = 10;
  std::vector<std::vector<index_t>> counts(k, std::vector<index_t>(k, 0));
  std::vector<std::int64_t> wrong;
  for (index_t i = 0; i < test.size(); ++i) {
    const std::int64_t y = test.labels[i], p = results.predicted[i];
    if (y < k && p < k) ++counts[y][p];
    if (y != p) wrong.push_back(i);
  }
  csv = "true\\predicted";
  for (index_t j = 0; j < k; ++j) csv += "," + std::to_string(j);
  csv += "\n";
  for (index_t i = 0; i < k; ++i) {
    csv += std::to_string(i);
    for (index_t j = 0; j < k; ++j) csv += "," + std::to_string(counts[i][j]);
    csv += "\n";
  }
  write_text(dir / "confusion.csv", csv);

  csv = "index,true,predicted\n";
  for (std::int64_t i : wrong) csv += format("%lld,%d,%lld\n", static_cast<long long>(i), test.labels[i],
                                             static_cast<long long>(results.predicted[i]));
  write_text(dir / "misclassified.csv", csv);

#ifdef EMBER_HAVE_PLPLOT
  draw_curves_png(dir / "curves.png", history_);
  draw_confusion_png(dir / "confusion.png", counts, record.epoch, results.accuracy);
  draw_misclassified_png(dir / "misclassified.png", test, wrong, results.predicted, record.epoch);
#endif
  return record;
}

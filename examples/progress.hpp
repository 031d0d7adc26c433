// The examples' progress line: during an epoch, one line that redraws in place on a terminal
//
//   epoch  3  412/938  loss 0.0712  21,334 images/s  1.2 s  ETA 1.6 s
//
// and is replaced by the epoch's summary line when the epoch ends. When the output is not a
// terminal (a pipe, a file, CI) nothing is redrawn: only the summary lines are written, so logs
// hold no '\r'. Not part of ember's headers: it needs only the C library and POSIX isatty().
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

#include <unistd.h>

namespace progress {

// 1234567 -> "1,234,567" (as torchinfo and the examples print counts).
inline std::string thousands(std::int64_t n) {
  std::string digits = std::to_string(n < 0 ? -n : n), out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return n < 0 ? "-" + out : out;
}

// Seconds as "4.2 s" under a minute, "3:07" under an hour, "1:02:03" beyond.
inline std::string duration(double seconds) {
  char buf[32];
  if (seconds < 60) {
    std::snprintf(buf, sizeof buf, "%.1f s", std::max(seconds, 0.0));
    return buf;
  }
  const auto s = static_cast<std::int64_t>(seconds + 0.5);
  if (s < 3600) std::snprintf(buf, sizeof buf, "%d:%02d", static_cast<int>(s / 60), static_cast<int>(s % 60));
  else
    std::snprintf(buf, sizeof buf, "%d:%02d:%02d", static_cast<int>(s / 3600), static_cast<int>(s / 60 % 60),
                  static_cast<int>(s % 60));
  return buf;
}

// The line shown during an epoch: batches done of total, the mean loss so far, the images per
// second and the time elapsed and left (the rest at the rate so far).
inline std::string line(int epoch, std::int64_t done, std::int64_t total, double mean_loss, std::int64_t images,
                        double elapsed) {
  const int width = static_cast<int>(std::to_string(total).size());
  char buf[160];
  const double rate = elapsed > 0 ? static_cast<double>(images) / elapsed : 0;
  const double eta = done > 0 ? elapsed * static_cast<double>(total - done) / static_cast<double>(done) : 0;
  std::snprintf(buf, sizeof buf, "epoch %2d  %*lld/%lld  loss %.4f  %s images/s  %s  ETA %s", epoch, width,
                static_cast<long long>(done), static_cast<long long>(total), mean_loss,
                thousands(static_cast<std::int64_t>(rate + 0.5)).c_str(), duration(elapsed).c_str(),
                done > 0 ? duration(eta).c_str() : "?");
  return buf;
}

// Whether `out` is a terminal, where redrawing a line in place works.
inline bool is_terminal(std::FILE* out) { return ::isatty(::fileno(out)) == 1; }

class Bar {
 public:
  // redraw: draw the line in place (a terminal); false: write only the summary lines. Redraws
  // come at most every `interval` seconds, and at the last batch.
  Bar(std::FILE* out, bool redraw, double interval = 0.1) : out_(out), redraw_(redraw), interval_(interval) {}

  void start(int epoch, std::int64_t total_batches) {
    epoch_ = epoch;
    total_ = total_batches;
    done_ = images_ = 0;
    loss_sum_ = 0;
    start_ = last_draw_ = std::chrono::steady_clock::now();
    drawn_ = false;
  }

  // After each batch: its loss (a mean over its `images` samples).
  void step(double loss, std::int64_t images) {
    ++done_;
    images_ += images;
    loss_sum_ += loss;
    if (!redraw_) return;
    const auto now = std::chrono::steady_clock::now();
    if (drawn_ && done_ < total_ && std::chrono::duration<double>(now - last_draw_).count() < interval_) return;
    last_draw_ = now;
    draw(line(epoch_, done_, total_, mean_loss(), images_, std::chrono::duration<double>(now - start_).count()));
  }

  // The epoch's summary: on a terminal it replaces the progress line; in all cases it ends the line.
  void finish(const std::string& summary) {
    if (redraw_) draw(summary);
    else std::fputs(summary.c_str(), out_);
    std::fputc('\n', out_);
    std::fflush(out_);
    drawn_ = false;
    width_ = 0;
  }

  double mean_loss() const { return done_ > 0 ? loss_sum_ / static_cast<double>(done_) : 0; }
  double seconds() const { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count(); }

 private:
  // '\r', the text, and spaces over what is left of a longer previous line.
  void draw(const std::string& text) {
    std::fputc('\r', out_);
    std::fputs(text.c_str(), out_);
    if (text.size() < width_) std::fprintf(out_, "%*s", static_cast<int>(width_ - text.size()), "");
    width_ = std::max(width_, text.size());
    std::fflush(out_);
    drawn_ = true;
  }

  std::FILE* out_;
  bool redraw_;
  double interval_;
  int epoch_ = 0;
  std::int64_t total_ = 0, done_ = 0, images_ = 0;
  double loss_sum_ = 0;
  std::chrono::steady_clock::time_point start_, last_draw_;
  bool drawn_ = false;
  std::size_t width_ = 0;
};

}  // namespace progress

// The examples' progress line (examples/progress.hpp): its text, and that it redraws only when
// told the output is a terminal.
#include "../examples/progress.hpp"

#include <algorithm>
#include <cstdio>
#include <string>

#include <catch2/catch.hpp>

namespace {
// What was written to a temporary file.
std::string contents(std::FILE* f) {
  std::fflush(f);
  std::rewind(f);
  std::string s;
  for (int c; (c = std::fgetc(f)) != EOF;) s += static_cast<char>(c);
  return s;
}
}  // namespace

TEST_CASE("progress formats counts and durations", "[progress]") {
  CHECK(progress::thousands(0) == "0");
  CHECK(progress::thousands(999) == "999");
  CHECK(progress::thousands(27210) == "27,210");
  CHECK(progress::thousands(1234567) == "1,234,567");
  CHECK(progress::thousands(-1000) == "-1,000");
  CHECK(progress::duration(4.24) == "4.2 s");
  CHECK(progress::duration(187) == "3:07");
  CHECK(progress::duration(3723) == "1:02:03");
}

TEST_CASE("progress line: batches, mean loss, images/s, elapsed and ETA", "[progress]") {
  // 250 of 1000 batches of 64 in 2 s: 8,000 images/s, 6 s left at that rate.
  CHECK(progress::line(3, 250, 1000, 0.07123, 250 * 64, 2.0) ==
        "epoch  3   250/1000  loss 0.0712  8,000 images/s  2.0 s  ETA 6.0 s");
  CHECK(progress::line(1, 0, 938, 0, 0, 0) == "epoch  1    0/938  loss 0.0000  0 images/s  0.0 s  ETA ?");
}

TEST_CASE("progress redraws with \\r on a terminal and ends with the summary", "[progress]") {
  std::FILE* f = std::tmpfile();
  REQUIRE(f);
  progress::Bar bar(f, /*redraw=*/true, /*interval=*/0);
  bar.start(1, 3);
  bar.step(1.0, 64);
  bar.step(0.5, 64);
  bar.step(0.0, 32);
  CHECK(bar.mean_loss() == Approx(0.5));
  bar.finish("epoch  1  done");
  const std::string out = contents(f);
  std::fclose(f);
  CHECK(std::count(out.begin(), out.end(), '\r') == 4);  // three batches, then the summary
  CHECK(std::count(out.begin(), out.end(), '\n') == 1);
  CHECK(out.find("epoch  1  1/3  loss 1.0000") != std::string::npos);
  CHECK(out.find("epoch  1  3/3  loss 0.5000") != std::string::npos);
  // The summary, shorter than the progress line, is padded with spaces over the rest of it.
  const auto last = out.rfind('\r');
  const std::string tail = out.substr(last + 1);
  CHECK(tail.rfind("epoch  1  done", 0) == 0);
  CHECK(tail.back() == '\n');
  CHECK(tail.find_first_not_of(' ', 14) == tail.size() - 1);
  CHECK(tail.size() - 1 == out.substr(0, last).size() - out.substr(0, last).rfind('\r') - 1);
}

TEST_CASE("progress writes only the summary lines when the output is not a terminal", "[progress]") {
  std::FILE* f = std::tmpfile();
  REQUIRE(f);
  CHECK_FALSE(progress::is_terminal(f));  // a file, as a pipe: isatty is false
  progress::Bar bar(f, progress::is_terminal(f), 0);
  for (int epoch = 1; epoch <= 2; ++epoch) {
    bar.start(epoch, 100);
    for (int i = 0; i < 100; ++i) bar.step(0.25, 64);
    bar.finish("epoch " + std::to_string(epoch) + " summary");
  }
  const std::string out = contents(f);
  std::fclose(f);
  CHECK(out == "epoch 1 summary\nepoch 2 summary\n");
}

TEST_CASE("progress redraws at most once per interval, and always at the last batch", "[progress]") {
  std::FILE* f = std::tmpfile();
  REQUIRE(f);
  progress::Bar bar(f, true, /*interval=*/3600);
  bar.start(1, 1000);
  for (int i = 0; i < 1000; ++i) bar.step(0.1, 8);
  const std::string out = contents(f);
  std::fclose(f);
  CHECK(std::count(out.begin(), out.end(), '\r') == 2);  // the first batch and the last
  CHECK(out.find("1000/1000") != std::string::npos);
}

#include <ember/ember.hpp>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>

#include "files.hpp"

using namespace ember;

TEST_CASE("Mnist::load reads both spellings of the file names", "[mnist]") {
  for (bool dotted : {false, true}) {
    test::TempDir dir;
    test::write_fake_mnist(dir, "train", 5, 28, 28, dotted);
    test::write_fake_mnist(dir, "t10k", 3, 28, 28, !dotted);
    const auto train = data::Mnist::load(dir.str(), data::Split::train);
    const auto test = data::Mnist::load(dir.str(), data::Split::test);
    CHECK(train.size() == 5);
    CHECK(test.size() == 3);
    CHECK(train.image_shape() == Shape{1, 28, 28});
    CHECK(train.pixels.size() == 5 * 784);
    CHECK(int{train.labels[1]} == (7 + 3) % 10);
  }
}

#if defined(EMBER_HAVE_ZLIB)
TEST_CASE("Mnist::load reads gzipped files (as Fashion-MNIST ships)", "[mnist]") {
  test::TempDir dir;
  test::write_gzip(dir.file("train-images-idx3-ubyte.gz"), test::idx_u8({4, 28, 28}));
  test::write_gzip(dir.file("train-labels-idx1-ubyte.gz"), test::idx_u8({4}, 10));
  CHECK(data::FashionMnist::load(dir.str(), data::Split::train).size() == 4);
}
#endif

TEST_CASE("Mnist::load says what is missing or inconsistent", "[mnist]") {
  test::TempDir dir;
  CHECK_THROWS_WITH(data::Mnist::load(dir.str(), data::Split::train),
                    Catch::Contains("no train-images file in '" + dir.str()) && Catch::Contains("MNIST_DIR"));
  test::write_file(dir.file("train-images-idx3-ubyte"), test::idx_u8({5, 28, 28}));
  test::write_file(dir.file("train-labels-idx1-ubyte"), test::idx_u8({4}, 10));
  CHECK_THROWS_WITH(data::Mnist::load(dir.str(), data::Split::train),
                    Catch::Contains("holds 5 images but") && Catch::Contains("holds 4 labels"));
  test::write_file(dir.file("train-labels-idx1-ubyte"), test::idx_u8({5}, 256));
  CHECK_THROWS_WITH(data::Mnist::load(dir.str(), data::Split::train), Catch::Contains("is not a digit class"));
  test::write_file(dir.file("train-labels-idx1-ubyte"), test::idx_u8({5, 1}, 10));
  CHECK_THROWS_WITH(data::Mnist::load(dir.str(), data::Split::train), Catch::Contains("expected u8 labels of shape (N,)"));
}

TEST_CASE("mnist_dir prefers the explicit path, then MNIST_DIR, then data/mnist", "[mnist]") {
  CHECK(data::mnist_dir("/x") == "/x");
  const char* saved = std::getenv("MNIST_DIR");
  const std::string keep = saved ? saved : "";
  setenv("MNIST_DIR", "/from/env", 1);
  CHECK(data::mnist_dir() == "/from/env");
  unsetenv("MNIST_DIR");
  CHECK(data::mnist_dir() == "data/mnist");
  if (saved) setenv("MNIST_DIR", keep.c_str(), 1);
}

TEST_CASE("the real MNIST files load with the expected sizes", "[mnist][data]") {
  const char* dir = std::getenv("MNIST_DIR");
  if (!dir || !std::filesystem::exists(dir)) {
    WARN("MNIST_DIR is not set or does not exist: skipping the real-MNIST check");
    return;
  }
  const auto train = data::Mnist::load(dir, data::Split::train);
  const auto test = data::Mnist::load(dir, data::Split::test);
  CHECK(train.size() == 60000);
  CHECK(test.size() == 10000);
  CHECK(train.image_shape() == Shape{1, 28, 28});
  CHECK(int{train.labels[0]} == 5);  // the first training digit of MNIST is a 5
  CHECK(int{test.labels[0]} == 7);   // and the first test digit a 7
}

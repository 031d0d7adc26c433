#include <ember/ember.hpp>

#include <catch2/catch.hpp>
#include <string>
#include <sstream>

using ember::Shape;
using ember::Tensor;

TEST_CASE("Tensor is zero-filled, shaped and 64-byte aligned", "[tensor]") {
  Tensor<float> t({2, 3, 4, 5});
  CHECK(t.dim() == 4);
  CHECK(t.numel() == 120);
  CHECK(t.size(0) == 2);
  CHECK(t.size(-1) == 5);
  CHECK(reinterpret_cast<std::uintptr_t>(t.data()) % 64 == 0);
  for (ember::index_t i = 0; i < t.numel(); ++i) REQUIRE(t.data()[i] == 0.0f);
}

TEST_CASE("Tensor element access is row-major and bounds-checked", "[tensor]") {
  Tensor<double> t({2, 3});
  t(1, 2) = 7.5;
  CHECK(t.data()[5] == 7.5);
  CHECK_THROWS_AS(t(2, 0), ember::Error);
  CHECK_THROWS_WITH(t(0, 3), Catch::Contains("out of range") && Catch::Contains("(2, 3)"));
  CHECK_THROWS_WITH(t(0), Catch::Contains("indexed with 1"));
  CHECK_THROWS_AS(t.size(2), ember::Error);
}

TEST_CASE("Shape rejects more than 4 dims and negative sizes", "[tensor]") {
  CHECK_THROWS_AS(Shape({1, 2, 3, 4, 5}), ember::Error);
  CHECK_THROWS_AS(Shape({2, -1}), ember::Error);
  std::ostringstream s;
  s << Shape{64, 784} << Shape{10};
  CHECK(s.str() == "(64, 784)(10,)");
}

TEST_CASE("matrix() is a zero-copy row-major view", "[tensor]") {
  Tensor<float> t({2, 3, 2});
  auto m = t.matrix();
  CHECK(m.rows() == 2);
  CHECK(m.cols() == 6);
  m(1, 4) = 3;
  CHECK(t(1, 2, 0) == 3);
  CHECK(m.data() == t.data());
  Tensor<float> v({5});
  CHECK(v.matrix().rows() == 1);
  CHECK(v.matrix().cols() == 5);
}

TEST_CASE("reshape is a view of the same data; a bad numel throws", "[tensor]") {
  Tensor<float> t({2, 6});
  t(1, 5) = 1;
  const auto v = t.reshape({3, 4});
  CHECK(v.data() == t.data());
  CHECK(v(2, 3) == 1);
  CHECK_FALSE(v.owns_data());
  CHECK_THROWS_WITH(t.reshape({5, 2}), Catch::Contains("cannot view shape (2, 6) as (5, 2)"));
}

TEST_CASE("copies are deep, moves steal, resize reuses storage", "[tensor]") {
  Tensor<float> a({4});
  a(0) = 1;
  Tensor<float> b = a;
  b(0) = 2;
  CHECK(a(0) == 1);
  const float* storage = b.data();
  Tensor<float> c = std::move(b);
  CHECK(c.data() == storage);
  c.resize_uninitialized({2});  // smaller: same storage
  CHECK(c.data() == storage);
  c.resize({2, 2});  // same numel as before: same storage, zero-filled
  CHECK(c.data() == storage);
  CHECK(c(1, 1) == 0);
  const Tensor<float> view = a.reshape({2, 2});
  Tensor<float> copy_of_view = view;  // copying a view copies the data
  CHECK(copy_of_view.owns_data());
  CHECK(copy_of_view(0, 0) == 1);
}

TEST_CASE("a default Tensor is empty, shape (0,)", "[tensor]") {
  Tensor<float> t;
  CHECK(t.numel() == 0);
  CHECK(t.shape() == Shape{0});
  CHECK(t.empty());
}

TEST_CASE("Tensor::view refuses unaligned memory", "[tensor]") {
  Tensor<float> t({8});
  CHECK_THROWS_WITH(Tensor<float>::view(t.data() + 1, {4}), Catch::Contains("aligned"));
}

TEST_CASE("ember::version() and EMBER_VERSION are the CMake project's version", "[version]") {
  CHECK(std::string(ember::version()) == EMBER_PROJECT_VERSION);
  CHECK(std::string(EMBER_VERSION) == std::to_string(EMBER_VERSION_MAJOR) + "." + std::to_string(EMBER_VERSION_MINOR) +
                                          "." + std::to_string(EMBER_VERSION_PATCH));
}

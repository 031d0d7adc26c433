// The IDX reader against good files of every element type and against hostile files.
#include <ember/ember.hpp>

#include <catch2/catch.hpp>
#include <cstring>

#include "files.hpp"

using namespace ember;
using test::Bytes;

TEST_CASE("read_idx reads u8 files", "[idx]") {
  test::TempDir dir;
  test::write_file(dir.file("a"), test::idx_u8({2, 3, 4}));
  const auto a = data::read_idx(dir.file("a"));
  CHECK(a.type == data::IdxType::u8);
  CHECK(a.dims == std::vector<index_t>{2, 3, 4});
  REQUIRE(a.bytes.size() == 24);
  CHECK(a.at(5) == 35);
}

TEST_CASE("read_idx recognises every element type and converts from big-endian", "[idx]") {
  test::TempDir dir;
  // i8 -3; i16 -2 (ff fe); i32 70000 (00 01 11 70); f32 1.5 (3f c0 00 00); f64 -2.25 (c0 02 00 ...)
  struct Case {
    unsigned char type;
    Bytes element;
    double value;
  };
  const Case cases[] = {{0x09, {0xfd}, -3},
                        {0x0B, {0xff, 0xfe}, -2},
                        {0x0C, {0x00, 0x01, 0x11, 0x70}, 70000},
                        {0x0D, {0x3f, 0xc0, 0x00, 0x00}, 1.5},
                        {0x0E, {0xc0, 0x02, 0, 0, 0, 0, 0, 0}, -2.25}};
  for (const auto& c : cases) {
    Bytes b = test::idx_header(c.type, {2});
    for (int k = 0; k < 2; ++k) b.insert(b.end(), c.element.begin(), c.element.end());
    test::write_file(dir.file("t"), b);
    const auto a = data::read_idx(dir.file("t"));
    INFO("type " << int{c.type});
    CHECK(static_cast<int>(a.type) == c.type);
    CHECK(a.at(0) == c.value);
    CHECK(a.at(1) == c.value);
  }
}

TEST_CASE("read_idx names the file and what is wrong with it", "[idx]") {
  test::TempDir dir;
  const std::string path = dir.file("bad-idx3-ubyte");
  auto fails_with = [&](const Bytes& bytes, const std::string& what) {
    test::write_file(path, bytes);
    CHECK_THROWS_WITH(data::read_idx(path), Catch::Contains(path) && Catch::Contains(what));
  };
  SECTION("missing") { CHECK_THROWS_WITH(data::read_idx(dir.file("nope")), Catch::Contains("nope: no such file")); }
  SECTION("a folder") { CHECK_THROWS_WITH(data::read_idx(dir.str()), Catch::Contains("not a regular file")); }
  SECTION("empty") { fails_with({}, "shorter than the 4-byte magic number"); }
  SECTION("wrong magic") { fails_with({0x12, 0x34, 0x08, 0x01, 0, 0, 0, 0}, "magic number 0x12340801"); }
  SECTION("unknown type") { fails_with({0, 0, 0x0A, 1, 0, 0, 0, 0}, "not an IDX file"); }
  SECTION("no dimensions") { fails_with({0, 0, 0x08, 0}, "not an IDX file"); }
  SECTION("truncated header") { fails_with({0, 0, 0x08, 3, 0, 0, 0, 5}, "truncated header"); }
  SECTION("truncated data") {
    Bytes b = test::idx_u8({10, 28, 28});
    b.resize(b.size() - 100);
    fails_with(b, "truncated: the header says 10 x 28 x 28 u8 elements");
  }
  SECTION("a header claiming 4 billion elements allocates nothing and fails") {
    fails_with(test::idx_header(0x08, {0xffffffffu, 0xffffffffu, 0xffffffffu}), "truncated");
  }
  SECTION("trailing bytes") {
    Bytes b = test::idx_u8({4});
    b.push_back(1);
    fails_with(b, "1 bytes more");
  }
  SECTION("a gzip file") {
    // The first bytes of any gzip file. Other readers report magic number 529205256 here.
    Bytes gz = {0x1f, 0x8b, 0x08, 0x08, 0, 0, 0, 0, 0, 3};
#if defined(EMBER_HAVE_ZLIB)
    fails_with(gz, "corrupt or truncated gzip");
#else
    fails_with(gz, "this is a gzip file");
#endif
  }
}

#if defined(EMBER_HAVE_ZLIB)
TEST_CASE("read_idx reads gzipped files directly", "[idx]") {
  test::TempDir dir;
  const Bytes raw = test::idx_u8({3, 5, 5});
  test::write_gzip(dir.file("x.gz"), raw);
  const auto a = data::read_idx(dir.file("x.gz"));
  CHECK(a.dims == std::vector<index_t>{3, 5, 5});
  CHECK(std::memcmp(a.bytes.data(), raw.data() + 16, 75) == 0);
}
#endif

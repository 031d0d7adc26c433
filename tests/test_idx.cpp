// The IDX reader against good files of every element type and against hostile files.
#include <ember/ember.hpp>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstring>
#include <sys/resource.h>

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
    fails_with(test::idx_header(0x08, {0xffffffffu, 3}), "truncated");
  }
  SECTION("dimensions whose product passes 2^63 are refused, even with a zero among them") {
    // Found by UBSan: (2^32-1) x (2^32-1) x 0 was accepted and numel() overflowed.
    fails_with(test::idx_header(0x08, {0xffffffffu, 0xffffffffu, 0}), "more than 2^63 bytes");
    fails_with(test::idx_header(0x08, {0xffffffffu, 0xffffffffu, 0xffffffffu}), "more than 2^63 bytes");
    fails_with(test::idx_header(0x0E, {0x7fffffffu, 0x7fffffffu, 2}), "more than 2^63 bytes");  // 2^63 bytes of f64
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
    fails_with(gz, "truncated gzip data");
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

TEST_CASE("IdxArray::numel checks its product", "[idx]") {
  data::IdxArray a;
  a.dims = {index_t{1} << 40, index_t{1} << 30};
  CHECK_THROWS_AS(a.numel(), Error);
  a.dims = {3, 0, 5};
  CHECK(a.numel() == 0);
}

#if defined(EMBER_HAVE_ZLIB)
namespace {

// A gzip stream of `prefix` followed by `mib` MiB of zeros, built without deflating them all:
// one MiB of zeros is deflated once, after a full flush (so it refers to nothing before it), and
// its blocks repeated; the trailer's CRC is combined. 1 GiB of zeros takes about 1 MB.
Bytes gzip_of_zeros(const Bytes& prefix, std::uint64_t mib) {
  z_stream zs{};
  REQUIRE(deflateInit2(&zs, 9, Z_DEFLATED, -MAX_WBITS, 9, Z_DEFAULT_STRATEGY) == Z_OK);  // raw deflate
  auto deflate_some = [&](const Bytes& in, int flush) {
    Bytes out(deflateBound(&zs, in.size()) + 64);
    zs.next_in = const_cast<unsigned char*>(in.data());
    zs.avail_in = static_cast<uInt>(in.size());
    zs.next_out = out.data();
    zs.avail_out = static_cast<uInt>(out.size());
    REQUIRE(deflate(&zs, flush) == (flush == Z_FINISH ? Z_STREAM_END : Z_OK));
    REQUIRE(zs.avail_in == 0);
    out.resize(out.size() - zs.avail_out);
    return out;
  };
  const Bytes zeros(std::size_t{1} << 20, 0);
  Bytes gz = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3};  // gzip header: deflate, no name, unix
  const Bytes head = deflate_some(prefix, Z_FULL_FLUSH), block = deflate_some(zeros, Z_FULL_FLUSH);
  const Bytes tail = deflate_some({}, Z_FINISH);
  deflateEnd(&zs);
  gz.insert(gz.end(), head.begin(), head.end());
  uLong crc = crc32(0, prefix.data(), static_cast<uInt>(prefix.size()));
  const uLong crc_block = crc32(0, zeros.data(), static_cast<uInt>(zeros.size()));
  for (std::uint64_t k = 0; k < mib; ++k) {
    gz.insert(gz.end(), block.begin(), block.end());
    crc = crc32_combine(crc, crc_block, static_cast<z_off_t>(zeros.size()));
  }
  gz.insert(gz.end(), tail.begin(), tail.end());
  const std::uint64_t size = prefix.size() + (mib << 20);
  for (std::uint64_t v : {std::uint64_t{crc}, size})  // CRC-32 and size mod 2^32, little-endian
    for (int s = 0; s < 32; s += 8) gz.push_back(static_cast<unsigned char>(v >> s));
  return gz;
}

double peak_rss_gb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_maxrss) / (1024.0 * 1024.0);  // ru_maxrss is in KiB on Linux
}

}  // namespace

TEST_CASE("gzip_of_zeros (the bombs' builder) writes valid gzip", "[idx]") {
  test::TempDir dir;
  test::write_file(dir.file("z.gz"), gzip_of_zeros(test::idx_header(0x08, {3, 1u << 20}), 3));
  const auto a = data::read_idx(dir.file("z.gz"));
  CHECK(a.dims == std::vector<index_t>{3, 1 << 20});
  CHECK(std::all_of(a.bytes.begin(), a.bytes.end(), [](unsigned char c) { return c == 0; }));
}

TEST_CASE("a gzip bomb stops at the size its IDX header implies, quickly and in little memory", "[idx]") {
  // Before: a 1 MB file inflating to 1 GiB behind a header claiming 10 bytes was inflated in full
  // (3 GB, 12 s, or std::bad_alloc under a memory limit); past 4 GiB the loop spun forever.
  test::TempDir dir;
  for (const std::uint64_t mib : {std::uint64_t{1} << 10, std::uint64_t{5} << 10}) {  // 1 GiB, then 5 GiB
    INFO(mib << " MiB of zeros");
    test::write_file(dir.file("bomb.gz"), gzip_of_zeros(test::idx_header(0x08, {10}), mib));
    const auto start = std::chrono::steady_clock::now();
    CHECK_THROWS_WITH(data::read_idx(dir.file("bomb.gz")),
                      Catch::Contains("bomb.gz: the gzip data inflates to more than the 18 bytes its IDX header implies"));
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    CHECK(seconds < 2.0);  // the limit is 20 s; stopping at 19 bytes takes microseconds
    CHECK(peak_rss_gb() < 1.5);
  }
}

TEST_CASE("gunzip gives zlib at most `chunk` bytes of space per call, so no size is cut to 32 bits", "[idx]") {
  // The real chunk is 2^31 (a free space of 4 GiB cast to uInt was 0); a chunk of 1000 bytes runs
  // the same loop over a 2 MiB stream without needing gigabytes.
  const Bytes header = test::idx_header(0x08, {2, 1u << 20});
  const Bytes gz = gzip_of_zeros(header, 2);
  for (const std::size_t chunk : {std::size_t{1000}, data::detail::max_zlib_chunk}) {
    const auto out = data::detail::gunzip(gz, "z.gz", header.size() + (2u << 20), false, chunk);
    REQUIRE(out.size() == header.size() + (2u << 20));
    CHECK(std::equal(header.begin(), header.end(), out.begin()));
    CHECK(std::all_of(out.begin() + 12, out.end(), [](unsigned char c) { return c == 0; }));
  }
  CHECK(data::detail::max_zlib_chunk <= std::numeric_limits<uInt>::max());
}

TEST_CASE("read_idx reads every gzip member, as gzip does, and refuses other data after the stream", "[idx]") {
  test::TempDir dir;
  const Bytes raw = test::idx_u8({4, 6});
  auto gzip_of = [&](const Bytes& b) {
    test::write_gzip(dir.file("part.gz"), b);
    const std::string s = test::read_bytes(dir.file("part.gz"));
    return Bytes(s.begin(), s.end());
  };
  Bytes two = gzip_of(Bytes(raw.begin(), raw.begin() + 10));  // `cat a.gz b.gz`: gunzip gives a then b
  const Bytes second = gzip_of(Bytes(raw.begin() + 10, raw.end()));
  two.insert(two.end(), second.begin(), second.end());
  test::write_file(dir.file("two.gz"), two);
  const auto a = data::read_idx(dir.file("two.gz"));
  CHECK(a.dims == std::vector<index_t>{4, 6});
  CHECK(std::equal(a.bytes.begin(), a.bytes.end(), raw.begin() + 12));

  for (const Bytes& junk : {Bytes{0}, Bytes{'x', 'y', 'z'}, Bytes{0x1f}}) {
    Bytes b = gzip_of(raw);
    b.insert(b.end(), junk.begin(), junk.end());
    test::write_file(dir.file("junk.gz"), b);
    CHECK_THROWS_WITH(data::read_idx(dir.file("junk.gz")),
                      Catch::Contains(std::to_string(junk.size()) + " bytes after the end of the gzip data"));
  }
  Bytes corrupt = gzip_of(raw);
  corrupt[corrupt.size() - 6] ^= 0xff;  // the CRC
  test::write_file(dir.file("crc.gz"), corrupt);
  CHECK_THROWS_WITH(data::read_idx(dir.file("crc.gz")), Catch::Contains("corrupt gzip data"));
}
#endif

// Test helpers for files: a temporary folder, and IDX files written byte by byte.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#if defined(EMBER_HAVE_ZLIB)
#include <zlib.h>
#endif

namespace test {

// A fresh folder under the system temp dir, removed with everything in it at scope exit.
class TempDir {
 public:
  TempDir() {
    std::random_device rd;
    path_ = std::filesystem::temp_directory_path() / ("ember_test_" + std::to_string(rd()) + std::to_string(rd()));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  std::string str() const { return path_.string(); }

 private:
  std::filesystem::path path_;
};

using Bytes = std::vector<unsigned char>;

// A whole file as a string of bytes, and back.
inline std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}
inline void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

inline void write_file(const std::string& path, const Bytes& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

// An IDX header: 00 00 type ndim, then big-endian dims.
inline Bytes idx_header(unsigned char type, const std::vector<std::uint32_t>& dims) {
  Bytes b = {0, 0, type, static_cast<unsigned char>(dims.size())};
  for (std::uint32_t d : dims)
    for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<unsigned char>(d >> s));
  return b;
}

// A u8 IDX file of the given dims, element i = (i * 7 + salt) % 256 (labels: % 10).
inline Bytes idx_u8(const std::vector<std::uint32_t>& dims, int modulo = 256, int salt = 0) {
  Bytes b = idx_header(0x08, dims);
  std::size_t n = 1;
  for (auto d : dims) n *= d;
  for (std::size_t i = 0; i < n; ++i) b.push_back(static_cast<unsigned char>((i * 7 + salt) % modulo));
  return b;
}

#if defined(EMBER_HAVE_ZLIB)
inline void write_gzip(const std::string& path, const Bytes& bytes) {
  gzFile f = gzopen(path.c_str(), "wb");
  gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size()));
  gzclose(f);
}
#endif

// A tiny MNIST-shaped folder: n images of h x w and n labels, in the given spelling.
inline void write_fake_mnist(const TempDir& dir, const std::string& prefix, std::uint32_t n, std::uint32_t h,
                             std::uint32_t w, bool dotted = false) {
  const std::string sep = dotted ? "." : "-";
  write_file(dir.file(prefix + "-images" + sep + "idx3-ubyte"), idx_u8({n, h, w}));
  write_file(dir.file(prefix + "-labels" + sep + "idx1-ubyte"), idx_u8({n}, 10, 3));
}

}  // namespace test

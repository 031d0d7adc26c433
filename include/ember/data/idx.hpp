// The IDX file format (MNIST's): a magic number 00 00 <type> <ndim>, ndim big-endian u32
// dimensions, then the elements, big-endian, row-major. Every field is checked against the
// file's real size before anything is sized from it.
#pragma once

#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#if defined(EMBER_HAVE_ZLIB)
#include <zlib.h>
#endif

#include "ember/error.hpp"
#include "ember/tensor.hpp"

namespace ember::data {

enum class IdxType : std::uint8_t { u8 = 0x08, i8 = 0x09, i16 = 0x0B, i32 = 0x0C, f32 = 0x0D, f64 = 0x0E };

inline int idx_element_size(IdxType t) {
  switch (t) {
    case IdxType::u8:
    case IdxType::i8: return 1;
    case IdxType::i16: return 2;
    case IdxType::i32:
    case IdxType::f32: return 4;
    case IdxType::f64: return 8;
  }
  return 0;
}
inline const char* idx_type_name(IdxType t) {
  switch (t) {
    case IdxType::u8: return "u8";
    case IdxType::i8: return "i8";
    case IdxType::i16: return "i16";
    case IdxType::i32: return "i32";
    case IdxType::f32: return "f32";
    case IdxType::f64: return "f64";
  }
  return "?";
}

// An IDX file's contents: element type, dimensions, and the elements in native byte order.
struct IdxArray {
  IdxType type = IdxType::u8;
  std::vector<index_t> dims;
  std::vector<unsigned char> bytes;

  // The product of the dims, checked: an Error, not an overflow, when it passes 2^63 - 1.
  index_t numel() const {
    index_t n = 1;
    for (index_t d : dims)
      ember::detail::check(d >= 0 && !__builtin_mul_overflow(n, d, &n), "IdxArray: the dimensions overflow a 64-bit ",
                           "element count");
    return n;
  }
  // Element i converted to double (any type).
  double at(index_t i) const {
    const unsigned char* p = bytes.data() + i * idx_element_size(type);
    switch (type) {
      case IdxType::u8: return *p;
      case IdxType::i8: return static_cast<std::int8_t>(*p);
      case IdxType::i16: return load<std::int16_t>(p);
      case IdxType::i32: return load<std::int32_t>(p);
      case IdxType::f32: return load<float>(p);
      case IdxType::f64: return load<double>(p);
    }
    return 0;
  }

 private:
  template <class V>
  static V load(const unsigned char* p) {
    V v;
    std::memcpy(&v, p, sizeof v);
    return v;
  }
};

namespace detail {

inline bool is_gzip(const std::vector<unsigned char>& b) { return b.size() >= 2 && b[0] == 0x1f && b[1] == 0x8b; }

inline std::vector<unsigned char> read_file(const std::string& path) {
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  ember::detail::check(!ec && std::filesystem::exists(status), path, ": no such file");
  ember::detail::check(std::filesystem::is_regular_file(status), path, ": not a regular file");
  const auto size = std::filesystem::file_size(path, ec);
  ember::detail::check(!ec, path, ": cannot read its size: ", ec.message());
  std::ifstream in(path, std::ios::binary);
  ember::detail::check(in.good(), path, ": cannot open for reading");
  std::vector<unsigned char> bytes(size);
  in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(size));
  ember::detail::check(static_cast<std::uintmax_t>(in.gcount()) == size, path, ": read ", in.gcount(), " of ", size,
                       " bytes");
  return bytes;
}

// An IDX header: its element type, dims and size, and the size of the data it announces.
struct IdxHeader {
  IdxType type = IdxType::u8;
  std::vector<index_t> dims;
  std::size_t header_bytes = 0;  // 4 + 4 * ndim
  std::size_t data_bytes = 0;    // product of the dims times the element size, checked
  std::string dims_text() const {
    std::string s;
    for (std::size_t d = 0; d < dims.size(); ++d) s += (d ? " x " : "") + std::to_string(dims[d]);
    return s + " " + idx_type_name(type);
  }
};

// The longest IDX header: 255 dimensions.
inline constexpr std::size_t max_idx_header_bytes = 4 + 4 * 255;

// Parses the header at the start of `bytes` (the whole file, or at least its first
// max_idx_header_bytes). Every size is computed with checked arithmetic: dimensions whose
// product (or its size in bytes) passes 2^63 - 1 are refused, whatever the file holds.
inline IdxHeader parse_idx_header(const std::vector<unsigned char>& bytes, const std::string& path) {
  const std::size_t size = bytes.size();
  ember::detail::check(size >= 4, path, ": not an IDX file (", size, " bytes, shorter than the 4-byte magic number)");
  const unsigned type_byte = bytes[2], ndim = bytes[3];
  const bool known_type = type_byte == 0x08 || type_byte == 0x09 || (type_byte >= 0x0B && type_byte <= 0x0E);
  if (bytes[0] != 0 || bytes[1] != 0 || !known_type || ndim == 0) {
    const std::uint32_t magic = (std::uint32_t{bytes[0]} << 24) | (std::uint32_t{bytes[1]} << 16) |
                                (std::uint32_t{bytes[2]} << 8) | bytes[3];
    throw Error(ember::detail::concat(path, ": not an IDX file (magic number 0x", std::hex, magic, std::dec,
                                      "; expected 00 00 <type 08/09/0B/0C/0D/0E> <ndim >= 1>)"));
  }
  IdxHeader h;
  h.type = static_cast<IdxType>(type_byte);
  h.header_bytes = 4 + 4 * std::size_t{ndim};
  ember::detail::check(size >= h.header_bytes, path, ": truncated header (", size, " bytes, the ", ndim,
                       " dimensions need ", h.header_bytes, ")");
  std::int64_t bytes_total = idx_element_size(h.type);  // each partial product stays below 2^63
  bool overflow = false;
  for (unsigned d = 0; d < ndim; ++d) {
    const unsigned char* p = bytes.data() + 4 + 4 * d;
    const std::uint32_t dim = (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) | p[3];
    h.dims.push_back(static_cast<index_t>(dim));
    overflow = overflow || __builtin_mul_overflow(bytes_total, std::int64_t{dim}, &bytes_total);
  }
  ember::detail::check(!overflow && static_cast<std::uint64_t>(bytes_total) <= SIZE_MAX - h.header_bytes, path,
                       ": the header says ", h.dims_text(), " elements: more than 2^63 bytes, which no file holds");
  h.data_bytes = static_cast<std::size_t>(bytes_total);
  return h;
}

#if defined(EMBER_HAVE_ZLIB)
// zlib counts in 32-bit uInt: no call gets more than this much input or output space, so that no
// size is cut to 32 bits (a free space of exactly 4 GiB was cut to 0 and the loop spun forever).
inline constexpr std::size_t max_zlib_chunk = std::size_t{1} << 31;

// Inflates gzip data into at most `limit` bytes, throwing when it holds more (with `prefix`,
// returns its first `limit` bytes instead). Every gzip member is read in turn, as gzip does;
// anything else after the end of the data is refused. The output grows with the data actually
// inflated (doubling), never from a header field, and never past limit + 1 bytes: a gzip bomb
// stops one byte after the size its IDX header implies. `chunk`: the most zlib gets per call.
inline std::vector<unsigned char> gunzip(const std::vector<unsigned char>& in, const std::string& path,
                                         std::size_t limit, bool prefix = false, std::size_t chunk = max_zlib_chunk) {
  static_assert(max_zlib_chunk <= std::numeric_limits<uInt>::max());
  chunk = std::min(chunk, max_zlib_chunk);
  z_stream zs{};
  ember::detail::check(inflateInit2(&zs, 16 + MAX_WBITS) == Z_OK, path, ": zlib failed to start");
  struct End {
    z_stream& zs;
    ~End() { inflateEnd(&zs); }
  } end{zs};
  const std::size_t cap = std::min(limit, SIZE_MAX - 1) + 1;  // one byte past the limit shows there is more
  std::vector<unsigned char> out(std::min(cap, in.size() < cap / 4 ? in.size() * 4 + 1024 : cap));
  std::size_t given = 0, produced = 0;  // bytes of `in` handed to zlib, bytes inflated
  for (;;) {
    if (zs.avail_in == 0 && given < in.size()) {
      const std::size_t n = std::min(in.size() - given, chunk);
      zs.next_in = const_cast<unsigned char*>(in.data() + given);
      zs.avail_in = static_cast<uInt>(n);
      given += n;
    }
    if (produced == out.size()) {
      if (out.size() == cap) break;  // limit + 1 bytes: too many
      out.resize(out.size() <= cap / 2 ? std::max<std::size_t>(2 * out.size(), 1024) : cap);
    }
    const std::size_t space = std::min(out.size() - produced, chunk);
    zs.next_out = out.data() + produced;
    zs.avail_out = static_cast<uInt>(space);
    const int rc = inflate(&zs, Z_NO_FLUSH);
    produced += space - zs.avail_out;
    const std::size_t left = zs.avail_in + (in.size() - given);  // input not yet inflated
    if (rc == Z_STREAM_END) {
      if (left == 0) break;
      const unsigned char* next = in.data() + (in.size() - left);
      ember::detail::check(left >= 2 && next[0] == 0x1f && next[1] == 0x8b, path, ": ", left,
                           " bytes after the end of the gzip data are not another gzip member");
      ember::detail::check(inflateReset(&zs) == Z_OK, path, ": zlib failed to restart");
      continue;
    }
    if (rc == Z_BUF_ERROR && left == 0) throw Error(path + ": truncated gzip data (it ends in the middle of the stream)");
    if (rc != Z_OK && rc != Z_BUF_ERROR)
      throw Error(path + ": corrupt gzip data (zlib: " + (zs.msg ? zs.msg : "error " + std::to_string(rc)) + ")");
  }
  if (produced > limit && !prefix)
    throw Error(ember::detail::concat(path, ": the gzip data inflates to more than the ", limit,
                                      " bytes its IDX header implies (refused without inflating the rest)"));
  out.resize(std::min(produced, limit));
  return out;
}
#endif

}  // namespace detail

// Parses IDX bytes; `path` only names the source in errors. Gzip data is inflated only as far as
// the IDX header inside it implies (plus one byte, to see that there is more).
inline IdxArray parse_idx(std::vector<unsigned char> bytes, const std::string& path) {
  if (detail::is_gzip(bytes)) {
#if defined(EMBER_HAVE_ZLIB)
    const auto head = detail::parse_idx_header(detail::gunzip(bytes, path, detail::max_idx_header_bytes, true), path);
    bytes = detail::gunzip(bytes, path, head.header_bytes + head.data_bytes);
#else
    throw Error(path + ": this is a gzip file (it starts with 1f 8b), and ember was built without zlib; "
                       "decompress it with 'gunzip -k " + path + "' or install zlib1g-dev and rebuild");
#endif
  }
  const detail::IdxHeader h = detail::parse_idx_header(bytes, path);
  const std::size_t size = bytes.size(), data = size - h.header_bytes;
  ember::detail::check(h.data_bytes <= data, path, ": truncated: the header says ", h.dims_text(),
                       " elements, but the file holds only ", data, " bytes of data");
  ember::detail::check(h.data_bytes == data, path, ": the header says ", h.dims_text(), " elements (", h.data_bytes,
                       " bytes), but the file has ", data - h.data_bytes, " bytes more");
  const std::size_t elem = static_cast<std::size_t>(idx_element_size(h.type));
  bytes.erase(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(h.header_bytes));
  if (elem > 1 && std::endian::native == std::endian::little) {  // big-endian to native
    for (std::size_t i = 0; i < bytes.size(); i += elem)
      for (std::size_t j = 0; j < elem / 2; ++j) std::swap(bytes[i + j], bytes[i + elem - 1 - j]);
  }
  IdxArray a;
  a.type = h.type;
  a.dims = h.dims;
  a.bytes = std::move(bytes);
  return a;
}

// Reads an IDX file, raw or gzip-compressed (with zlib).
inline IdxArray read_idx(const std::string& path) { return parse_idx(detail::read_file(path), path); }

}  // namespace ember::data

// The IDX file format (MNIST's): a magic number 00 00 <type> <ndim>, ndim big-endian u32
// dimensions, then the elements, big-endian, row-major. Every field is checked against the
// file's real size before anything is sized from it.
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
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

  index_t numel() const {
    index_t n = 1;
    for (index_t d : dims) n *= d;
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

#if defined(EMBER_HAVE_ZLIB)
// Inflates a gzip file; the output grows with the real data, never from a header field.
inline std::vector<unsigned char> gunzip(const std::vector<unsigned char>& in, const std::string& path) {
  z_stream zs{};
  ember::detail::check(inflateInit2(&zs, 16 + MAX_WBITS) == Z_OK, path, ": zlib failed to start");
  zs.next_in = const_cast<unsigned char*>(in.data());
  zs.avail_in = static_cast<uInt>(in.size());
  std::vector<unsigned char> out(in.size() * 4 + 1024);
  int rc = Z_OK;
  while (rc == Z_OK) {
    if (zs.total_out == out.size()) out.resize(out.size() * 2);
    zs.next_out = out.data() + zs.total_out;
    zs.avail_out = static_cast<uInt>(out.size() - zs.total_out);
    rc = inflate(&zs, Z_NO_FLUSH);
    if (rc == Z_BUF_ERROR && zs.avail_in == 0) break;  // truncated input
    if (rc == Z_BUF_ERROR) rc = Z_OK;                  // needs more output space
  }
  const auto produced = zs.total_out;
  inflateEnd(&zs);
  ember::detail::check(rc == Z_STREAM_END, path, ": corrupt or truncated gzip data");
  out.resize(produced);
  return out;
}
#endif

}  // namespace detail

// Parses IDX bytes; `path` only names the source in errors.
inline IdxArray parse_idx(std::vector<unsigned char> bytes, const std::string& path) {
  if (detail::is_gzip(bytes)) {
#if defined(EMBER_HAVE_ZLIB)
    bytes = detail::gunzip(bytes, path);
#else
    throw Error(path + ": this is a gzip file (it starts with 1f 8b), and ember was built without zlib; "
                       "decompress it with 'gunzip -k " + path + "' or install zlib1g-dev and rebuild");
#endif
  }
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
  IdxArray a;
  a.type = static_cast<IdxType>(type_byte);
  const std::size_t header = 4 + 4 * std::size_t{ndim};
  ember::detail::check(size >= header, path, ": truncated header (", size, " bytes, the ", ndim,
                       " dimensions need ", header, ")");
  // The element count, checked for overflow against the real size as it is multiplied up.
  const std::size_t elem = static_cast<std::size_t>(idx_element_size(a.type));
  const std::size_t available = (size - header) / elem;
  std::size_t count = 1;
  for (unsigned d = 0; d < ndim; ++d) {
    const unsigned char* p = bytes.data() + 4 + 4 * d;
    const std::uint32_t dim = (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) | p[3];
    a.dims.push_back(static_cast<index_t>(dim));
    if (dim == 0 || count > available / dim) count = dim == 0 ? 0 : available + 1;
    else count *= dim;
  }
  std::string dims_text;
  for (std::size_t d = 0; d < a.dims.size(); ++d) dims_text += (d ? " x " : "") + std::to_string(a.dims[d]);
  ember::detail::check(count <= available, path, ": truncated: the header says ", dims_text, " ",
                       idx_type_name(a.type), " elements, but the file holds only ", size - header, " bytes of data");
  ember::detail::check(header + count * elem == size, path, ": the header says ", dims_text, " ",
                       idx_type_name(a.type), " elements (", count * elem, " bytes), but the file has ",
                       size - header - count * elem, " bytes more");
  bytes.erase(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(header));
  if (elem > 1 && std::endian::native == std::endian::little) {  // big-endian to native
    for (std::size_t i = 0; i < bytes.size(); i += elem)
      for (std::size_t j = 0; j < elem / 2; ++j) std::swap(bytes[i + j], bytes[i + elem - 1 - j]);
  }
  a.bytes = std::move(bytes);
  return a;
}

// Reads an IDX file, raw or gzip-compressed (with zlib).
inline IdxArray read_idx(const std::string& path) { return parse_idx(detail::read_file(path), path); }

}  // namespace ember::data

// libFuzzer target: the input gzip-compressed (a valid gzip stream around arbitrary bytes), then
// data::parse_idx on the compressed bytes: the IDX reader behind zlib, where sizes come from the
// decompressed data rather than the file's. The parsed array must equal what parse_idx gives for
// the raw bytes.
#include <cstdint>
#include <vector>

#include <zlib.h>

#include <ember/data/idx.hpp>

#include "fuzz.hpp"

namespace {

std::vector<unsigned char> gzip(const std::uint8_t* data, std::size_t size) {
  z_stream zs{};
  if (deflateInit2(&zs, Z_BEST_SPEED, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    fuzz::fail("deflateInit2");
  std::vector<unsigned char> out(deflateBound(&zs, static_cast<uLong>(size)) + 64);
  zs.next_in = const_cast<std::uint8_t*>(data);
  zs.avail_in = static_cast<uInt>(size);
  zs.next_out = out.data();
  zs.avail_out = static_cast<uInt>(out.size());
  if (deflate(&zs, Z_FINISH) != Z_STREAM_END) fuzz::fail("deflate");
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  ember::data::IdxArray a, raw;
  const bool ok = fuzz::try_load([&] { a = ember::data::parse_idx(gzip(data, size), "fuzz.idx.gz"); });
  // The raw bytes parse the same way, unless they are themselves gzip (then the two differ).
  const bool inner_gzip = size >= 2 && data[0] == 0x1f && data[1] == 0x8b;
  if (inner_gzip) return 0;
  const bool raw_ok =
      fuzz::try_load([&] { raw = ember::data::parse_idx(std::vector<unsigned char>(data, data + size), "fuzz.idx"); });
  if (ok != raw_ok) fuzz::fail("parse_idx accepts the gzipped bytes but not the raw ones, or the other way round");
  if (ok && (a.type != raw.type || a.dims != raw.dims || a.bytes != raw.bytes))
    fuzz::fail("parse_idx reads the gzipped bytes differently from the raw ones");
  return 0;
}

// libFuzzer target: data::parse_idx on the input's bytes as they are (raw IDX, or gzip when they
// start with 1f 8b: the seed corpus has both). A parsed array must be consistent: its bytes hold
// exactly numel() elements of its type.
#include <cstdint>
#include <vector>

#include <ember/data/idx.hpp>

#include "fuzz.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::vector<unsigned char> bytes(data, data + size);
  ember::data::IdxArray a;
  if (!fuzz::try_load([&] { a = ember::data::parse_idx(std::move(bytes), "fuzz.idx"); })) return 0;
  if (a.dims.empty() || a.dims.size() > 255) fuzz::fail("parse_idx returned an array with a bad number of dims");
  const auto n = static_cast<std::size_t>(a.numel());
  if (a.bytes.size() != n * static_cast<std::size_t>(ember::data::idx_element_size(a.type)))
    fuzz::fail("parse_idx returned bytes that do not hold numel() elements");
  double sum = 0;
  for (std::size_t i = 0; i < n; ++i) sum += a.at(static_cast<ember::index_t>(i));  // reads every element
  (void)sum;
  return 0;
}

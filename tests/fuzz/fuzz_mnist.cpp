// libFuzzer target: data::Mnist::load on a folder of the four IDX files built from the input,
// then a DataLoader over what loaded, reading its first and last batch.
//
// Input: byte 0 = flags (bit 0: the dotted spelling train-images.idx3-ubyte; bits 1-4: gzip
// train-images, train-labels, t10k-images, t10k-labels), then three little-endian u16 lengths of
// the first three files (cut to what remains), then the files' bytes; the fourth takes the rest.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <zlib.h>

#include <ember/data/dataloader.hpp>
#include <ember/data/mnist.hpp>

#include "fuzz.hpp"

namespace {

void write_maybe_gzip(const std::filesystem::path& path, const std::uint8_t* data, std::size_t size, bool gz) {
  if (!gz) return fuzz::write_file(path, data, size);
  gzFile f = gzopen(path.c_str(), "wb1");
  if (!f || (size > 0 && gzwrite(f, data, static_cast<unsigned>(size)) != static_cast<int>(size)) || gzclose(f) != Z_OK)
    fuzz::fail("cannot write the gzip file");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 7) return 0;
  const unsigned flags = data[0];
  std::size_t lengths[4];
  std::size_t at = 7, left = size - 7;
  for (int i = 0; i < 3; ++i) {
    lengths[i] = std::min<std::size_t>(left, data[1 + 2 * i] | (std::size_t{data[2 + 2 * i]} << 8));
    left -= lengths[i];
  }
  lengths[3] = left;

  const auto dir = fuzz::temp_dir() / "mnist";
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  std::filesystem::create_directory(dir);
  const char* stems[4] = {"train-images", "train-labels", "t10k-images", "t10k-labels"};
  const char* kinds[4] = {"idx3", "idx1", "idx3", "idx1"};
  for (int i = 0; i < 4; ++i) {
    const bool gz = flags & (2u << i);
    const std::string name = std::string(stems[i]) + (flags & 1 ? "." : "-") + kinds[i] + "-ubyte" + (gz ? ".gz" : "");
    write_maybe_gzip(dir / name, data + at, lengths[i], gz);
    at += lengths[i];
  }

  for (const auto split : {ember::data::Split::train, ember::data::Split::test}) {
    ember::data::ImageDataset ds;
    if (!fuzz::try_load([&] { ds = ember::data::Mnist::load(dir.string(), split); })) continue;
    if (ds.pixels.size() != static_cast<std::size_t>(ds.size() * ds.image_numel()))
      fuzz::fail("Mnist::load returned pixels that are not N x H x W");
    for (const auto label : ds.labels)
      if (label > 9) fuzz::fail("Mnist::load returned a label outside 0-9");
    // What a user does next: batches (an empty or degenerate dataset must be refused, not crash).
    fuzz::try_load([&] {
      ember::data::DataLoader<float> loader(ds, {.batch_size = 3, .shuffle = true, .seed = 1});
      const auto& first = *loader.begin();
      if (first.labels.numel() > 3) fuzz::fail("a batch larger than batch_size");
      (void)loader.load(loader.size() - 1);
    });
  }
  return 0;
}

// Writes the fuzzers' seed corpora (tests/fuzz/corpus/<target>/, committed): a few tiny valid
// inputs per target for libFuzzer to mutate. Rebuild and rerun by hand when a format changes:
//   clang++ -std=c++20 -I include -I /usr/include/eigen3 -DEMBER_HAVE_ZLIB tests/fuzz/make_seeds.cpp -lz \
//     -o /tmp/make_seeds && /tmp/make_seeds tests/fuzz/corpus
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <zlib.h>

#include <ember/ember.hpp>
#include <ember/io.hpp>

namespace fs = std::filesystem;
using Bytes = std::vector<unsigned char>;
using namespace ember;

namespace {

void write(const fs::path& path, const Bytes& b) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}
Bytes read(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// An IDX file: magic 00 00 type ndim, big-endian dims, then `elem` bytes per element from a pattern.
Bytes idx(unsigned char type, int elem, const std::vector<std::uint32_t>& dims, int modulo = 256) {
  Bytes b = {0, 0, type, static_cast<unsigned char>(dims.size())};
  std::size_t n = 1;
  for (auto d : dims) {
    n *= d;
    for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<unsigned char>(d >> s));
  }
  for (std::size_t i = 0; i < n * static_cast<std::size_t>(elem); ++i)
    b.push_back(static_cast<unsigned char>(elem == 1 ? (i * 7) % modulo : (i * 13) % 256));
  return b;
}

Bytes gzip(const Bytes& in) {
  z_stream zs{};
  deflateInit2(&zs, Z_BEST_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
  Bytes out(deflateBound(&zs, static_cast<uLong>(in.size())) + 64);
  zs.next_in = const_cast<unsigned char*>(in.data());
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = out.data();
  zs.avail_out = static_cast<uInt>(out.size());
  deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

// fuzz_mnist's input: flags, three u16 lengths, the four files.
Bytes mnist_input(unsigned flags, const std::vector<Bytes>& files) {
  Bytes b = {static_cast<unsigned char>(flags)};
  for (int i = 0; i < 3; ++i) {
    b.push_back(static_cast<unsigned char>(files[i].size()));
    b.push_back(static_cast<unsigned char>(files[i].size() >> 8));
  }
  for (const auto& f : files) b.insert(b.end(), f.begin(), f.end());
  return b;
}

// The models fuzz_safetensors.cpp and fuzz_checkpoint.cpp load into.
template <class T>
auto safetensors_model() {
  using namespace nn;
  return Sequential{Linear<T>{3, 2}, BatchNorm1d<T>{2}, ReLU<T>{}, Dropout<T>{0.5}, Linear<T>{2, 2}};
}
auto checkpoint_model() {
  return nn::Sequential{nn::Flatten{}, nn::Linear{4, 3}, nn::BatchNorm1d{3}, nn::ReLU{}, nn::Dropout{0.5}, nn::Linear{3, 2}};
}

template <class Optimizer>
void checkpoint_seed(const fs::path& path, unsigned char selector, bool train, Optimizer& optimizer,
                     decltype(checkpoint_model())& model) {
  data::ImageDataset ds;
  ds.name = "fuzz";
  ds.height = ds.width = 2;
  for (int i = 0; i < 20; ++i) ds.pixels.push_back(static_cast<std::uint8_t>(i * 37));
  ds.labels = {0, 1, 1, 0, 1};
  data::DataLoader<float> loader(ds, {.batch_size = 2, .shuffle = true, .seed = 3});
  std::int64_t step = 0;
  nn::CrossEntropyLoss criterion;
  if (train)
    for (const auto& [images, labels] : loader) {
      criterion.forward(model.forward(images), labels);
      optimizer.zero_grad();
      model.backward(criterion.backward());
      optimizer.step();
      if (++step == 2) break;
    }
  const auto tmp = fs::temp_directory_path() / "ember_make_seeds.ckpt";
  io::save_checkpoint(model, optimizer, loader, step, tmp);
  Bytes b = {selector};
  const Bytes file = read(tmp);
  b.insert(b.end(), file.begin(), file.end());
  write(path, b);
  fs::remove(tmp);
}

}  // namespace

int main(int argc, char** argv) {
  const fs::path out = argc > 1 ? argv[1] : "tests/fuzz/corpus";
  const std::vector<std::pair<std::string, Bytes>> idx_files = {
      {"u8_images", idx(0x08, 1, {2, 3, 3})}, {"u8_labels", idx(0x08, 1, {4}, 10)}, {"i8", idx(0x09, 1, {5})},
      {"i16", idx(0x0B, 2, {2, 2})},         {"i32", idx(0x0C, 4, {3})},           {"f32", idx(0x0D, 4, {1, 2})},
      {"f64", idx(0x0E, 8, {2})}};
  for (const auto& [name, b] : idx_files) {
    write(out / "idx" / name, b);
    write(out / "idx_gzip" / name, b);
  }
  write(out / "idx" / "u8_images.gz", gzip(idx_files[0].second));
  write(out / "idx" / "f32.gz", gzip(idx_files[5].second));

  const std::vector<Bytes> mnist = {idx(0x08, 1, {3, 2, 2}), idx(0x08, 1, {3}, 10), idx(0x08, 1, {2, 2, 2}),
                                    idx(0x08, 1, {2}, 10)};
  write(out / "mnist" / "plain", mnist_input(0, mnist));
  write(out / "mnist" / "dotted", mnist_input(1, mnist));
  write(out / "mnist" / "gzipped", mnist_input(0x1e, mnist));

  fs::create_directories(out / "safetensors");
  manual_seed(1);
  auto f = safetensors_model<float>();
  io::save(f, out / "safetensors" / "float.safetensors");
  auto d = safetensors_model<double>();
  io::save(d, out / "safetensors" / "double.safetensors");

  for (unsigned char k = 0; k < 3; ++k) {
    manual_seed(2 + k);
    auto model = checkpoint_model();
    const fs::path path = out / "checkpoint" / (std::string(k == 0 ? "adam" : k == 1 ? "adam_amsgrad" : "sgd_nesterov"));
    if (k < 2) {
      optim::Adam optimizer(model.parameters(), {.lr = 1e-2, .amsgrad = k == 1});
      checkpoint_seed(path, k, true, optimizer, model);
    } else {
      optim::SGD optimizer(model.parameters(), {.lr = 0.05, .momentum = 0.9, .nesterov = true});
      checkpoint_seed(path, k, true, optimizer, model);
      auto fresh = checkpoint_model();
      optim::SGD untrained(fresh.parameters(), {.lr = 0.05, .momentum = 0.9, .nesterov = true});
      checkpoint_seed(out / "checkpoint" / "sgd_no_momentum_yet", k, false, untrained, fresh);
    }
  }
  return 0;
}

// libFuzzer target: io::load of the input (as a file) into a small model with parameters and
// buffers (float and I64), in float and in double. A failed load must leave the model as it was,
// bit for bit.
#include <cstdint>

#include <ember/io.hpp>
#include <ember/nn/batchnorm.hpp>
#include <ember/nn/dropout.hpp>
#include <ember/nn/linear.hpp>
#include <ember/nn/relu.hpp>
#include <ember/nn/sequential.hpp>

#include "fuzz.hpp"
#include "snapshot.hpp"

namespace {

template <class T>
auto make_model() {
  using namespace ember::nn;
  return Sequential{Linear<T>{3, 2}, BatchNorm1d<T>{2}, ReLU<T>{}, Dropout<T>{0.5}, Linear<T>{2, 2}};
}

template <class T>
void load_into(const std::filesystem::path& path) {
  ember::manual_seed(7);
  auto model = make_model<T>();
  const std::string before = fuzz::snapshot_model(model);
  if (fuzz::try_load([&] { ember::io::load(model, path); })) {
    // What a user does next: a forward pass on the loaded weights.
    ember::Tensor<T> x({4, 3});
    for (ember::index_t i = 0; i < x.numel(); ++i) x.data()[i] = static_cast<T>(i % 5) - T(2);
    model.eval();
    (void)model.forward(x);
  } else if (fuzz::snapshot_model(model) != before) {
    fuzz::fail("a failed io::load changed the model");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto path = fuzz::temp_dir() / "model.safetensors";
  fuzz::write_file(path, data, size);
  load_into<float>(path);
  load_into<double>(path);
  return 0;
}

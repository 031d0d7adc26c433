// The examples' models, shared by mnist_mlp and mnist_cnn (which train them) and predict (which
// rebuilds the one a weights file names in its metadata, as the training example recorded it).
#pragma once

#include <cstdlib>
#include <map>
#include <memory>
#include <ostream>
#include <sstream>
#include <string>
#include <vector>

#include <ember/ember.hpp>

// The MLP notebook's model: Flatten, then Linear + ReLU for each hidden size, then Linear to 10
// classes, built at run time as an nn.Sequential (parameter names 1.weight, 3.weight, ...).
inline ember::nn::Sequential<float> make_mlp(const std::vector<int>& hidden) {
  using namespace ember;
  nn::Sequential<float> model;
  model.push_back(nn::Flatten{});
  int in = 784;
  for (int h : hidden) {
    model.push_back(nn::Linear{in, h});
    model.push_back(nn::ReLU{});
    in = h;
  }
  model.push_back(nn::Linear{in, 10});
  return model;
}

// The CNN notebook's `class Net(nn.Module)`: its members listed once, and forward() only (the
// backward is replayed from the layer calls it records; each layer keeps its own backward).
struct Net : ember::nn::Module<float> {
  using Tensor = ember::Tensor<float>;
  ember::nn::Conv2d<> conv1{1, 16, 3};
  ember::nn::Linear<> fc{16 * 13 * 13, 10};
  EMBER_MODULE(Net, conv1, fc)

  const Tensor& forward(const Tensor& x) override {  // x: (N, 1, 28, 28)
    namespace F = ember::nn::functional;
    const auto& h = F::max_pool2d(F::relu(conv1(x)), 2);  // h: (N, 16, 13, 13)
    return fc(F::flatten(h, 1));                         // logits: (N, 10)
  }
};

// LeNet-5 as an nn.Sequential.
inline ember::nn::Sequential<float> make_lenet() {
  using namespace ember;
  return nn::Sequential{nn::Conv2d{1, 6, 5, {.padding = 2}}, nn::ReLU{}, nn::MaxPool2d{2},
                        nn::Conv2d{6, 16, 5},                nn::ReLU{}, nn::MaxPool2d{2},
                        nn::Flatten{},
                        nn::Linear{400, 120}, nn::ReLU{},
                        nn::Linear{120, 84},  nn::ReLU{},
                        nn::Linear{84, 10}};
}

// What a weights file of the examples records in its safetensors metadata, to be rebuilt from it:
// "ember.model" is "mlp", "seed" or "lenet"; "ember.hidden" the MLP's hidden sizes ("128,64");
// "ember.normalize_mean" / "ember.normalize_std" the training Normalize (empty: none).
inline std::map<std::string, std::string> model_metadata(const std::string& model, const std::vector<int>& hidden,
                                                         const ember::data::Normalize& normalize) {
  const auto join = [](const auto& values) {
    std::ostringstream s;
    for (std::size_t i = 0; i < values.size(); ++i) s << (i ? "," : "") << values[i];
    return s.str();
  };
  std::map<std::string, std::string> m{{"ember.model", model},
                                       {"ember.normalize_mean", join(normalize.mean)},
                                       {"ember.normalize_std", join(normalize.std)}};
  if (model == "mlp") m["ember.hidden"] = join(hidden);
  return m;
}

// The model a weights file's metadata names (ember::Error when it names none of the examples').
inline std::unique_ptr<ember::nn::Module<float>> make_model(const std::map<std::string, std::string>& metadata) {
  const auto model = metadata.find("ember.model");
  ember::detail::check(model != metadata.end(), "the file has no \"ember.model\" in its metadata: not saved by "
                                                "mnist_mlp --save or mnist_cnn --save");
  if (model->second == "seed") return std::make_unique<Net>();
  if (model->second == "lenet") return std::make_unique<ember::nn::Sequential<float>>(make_lenet());
  ember::detail::check(model->second == "mlp", "the file's metadata names the model \"", model->second,
                       "\", which is none of mlp, seed or lenet");
  std::vector<int> hidden;
  const auto h = metadata.find("ember.hidden");
  std::istringstream in(h == metadata.end() ? "" : h->second);
  for (std::string part; std::getline(in, part, ',');) {
    char* end = nullptr;
    const long v = std::strtol(part.c_str(), &end, 10);
    ember::detail::check(!part.empty() && *end == '\0' && v > 0 && v < (1 << 30), "the file's metadata has hidden sizes \"",
                         h->second, "\", expected sizes such as 128,64");
    hidden.push_back(static_cast<int>(v));
  }
  return std::make_unique<ember::nn::Sequential<float>>(make_mlp(hidden));
}

// The training Normalize a file's metadata records.
inline ember::data::Normalize model_normalize(const std::map<std::string, std::string>& metadata) {
  ember::data::Normalize n;
  for (auto [key, out] : {std::pair{"ember.normalize_mean", &n.mean}, std::pair{"ember.normalize_std", &n.std}}) {
    const auto it = metadata.find(key);
    if (it == metadata.end()) continue;
    std::istringstream in(it->second);
    for (std::string part; std::getline(in, part, ',');) out->push_back(std::strtod(part.c_str(), nullptr));
  }
  return n;
}

// Models written with forward() only, in double, shared by test_graph.cpp (golden values from
// torch 1.13, tests/golden/make_golden_graph.py) and test_layers.cpp (the layer battery).
#pragma once

#include <ember/ember.hpp>

namespace test::graph {

using T = double;
using Tn = ember::Tensor<double>;
namespace nn = ember::nn;
namespace F = ember::nn::functional;

// pytorch/examples mnist/main.py's Net, line for line (dropout probabilities as arguments: the
// golden comparison uses 0, so no mask is drawn).
struct MainPyNet : nn::Module<double> {
  nn::Conv2d<T> conv1{1, 32, 3, {.stride = 1}}, conv2{32, 64, 3, {.stride = 1}};
  nn::Dropout<T> dropout1, dropout2;
  nn::Linear<T> fc1{9216, 128}, fc2{128, 10};
  EMBER_MODULE(MainPyNet, conv1, conv2, dropout1, dropout2, fc1, fc2)

  explicit MainPyNet(double p1 = 0.25, double p2 = 0.5) : dropout1(p1), dropout2(p2) {}
  const Tn& forward(const Tn& x) override {
    const auto& h = F::max_pool2d(F::relu(conv2(F::relu(conv1(x)))), 2);
    const auto& z = F::relu(fc1(F::flatten(dropout1(h), 1)));
    return F::log_softmax(fc2(dropout2(z)), 1);
  }
};

// The seed notebook's CNN: Conv2d(1, 16, 3) -> ReLU -> MaxPool2d(2) -> Linear(2704, 10).
struct SeedCnn : nn::Module<double> {
  nn::Conv2d<T> conv1{1, 16, 3};
  nn::Linear<T> fc{16 * 13 * 13, 10};
  EMBER_MODULE(SeedCnn, conv1, fc)
  const Tn& forward(const Tn& x) override { return fc(F::flatten(F::max_pool2d(F::relu(conv1(x)), 2))); }
};

// h feeds two ops: fc2 and the residual add.
struct ResidualMlp : nn::Module<double> {
  nn::Linear<T> fc1{20, 16}, fc2{16, 16}, fc3{16, 5};
  EMBER_MODULE(ResidualMlp, fc1, fc2, fc3)
  const Tn& forward(const Tn& x) override {
    const auto& h = F::relu(fc1(x));
    return fc3(F::add(F::relu(fc2(h)), h));
  }
};

// Two branches of the input joined by cat.
struct TwoBranch : nn::Module<double> {
  nn::Conv2d<T> conv{1, 2, 3};
  nn::Linear<T> fc_b{36, 8}, head{40, 5};
  EMBER_MODULE(TwoBranch, conv, fc_b, head)
  const Tn& forward(const Tn& x) override {
    const auto& a = F::flatten(F::relu(conv(x)), 1);
    const auto& b = F::tanh(fc_b(F::reshape(x, {x.size(0), -1})));
    return head(F::cat({a, b}, 1));
  }
};

// One Linear applied twice: its weights get both uses' gradients.
struct SharedLinear : nn::Module<double> {
  nn::Linear<T> fc{8, 8}, head{8, 4};
  EMBER_MODULE(SharedLinear, fc, head)
  const Tn& forward(const Tn& x) override { return head(fc(F::relu(fc(x)))); }
};

// main.py's Net at a size the battery's central differences can afford (1,274 parameters
// instead of 1.2 million): the same layers and ops, on 10 x 10 images.
struct SmallMainPyNet : nn::Module<double> {
  nn::Conv2d<T> conv1{1, 4, 3}, conv2{4, 8, 3};
  nn::Dropout<T> dropout1{0.25}, dropout2{0.5};
  nn::Linear<T> fc1{72, 12}, fc2{12, 10};
  EMBER_MODULE(SmallMainPyNet, conv1, conv2, dropout1, dropout2, fc1, fc2)
  const Tn& forward(const Tn& x) override {
    const auto& h = F::max_pool2d(F::relu(conv2(F::relu(conv1(x)))), 2);
    const auto& z = F::relu(fc1(F::flatten(dropout1(h), 1)));
    return F::log_softmax(fc2(dropout2(z)), 1);
  }
};

}  // namespace test::graph

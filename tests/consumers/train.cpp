// A consumer's program: trains a small MLP on a made-up, separable problem and exits 0 when it
// has learnt it. Built by the consumer projects beside this file.
#include <ember/ember.hpp>

#include <cstdio>

using namespace ember;

int main() {
  manual_seed(0);
  // 256 points in 4-d; the class is the index of the largest coordinate.
  Generator g(1);
  Tensor<float> x({256, 4});
  Tensor<std::int64_t> y({256});
  for (index_t i = 0; i < 256; ++i) {
    index_t best = 0;
    for (index_t j = 0; j < 4; ++j) {
      x(i, j) = static_cast<float>(g.normal());
      if (x(i, j) > x(i, best)) best = j;
    }
    y(i) = best;
  }
  nn::Sequential model{nn::Linear{4, 32}, nn::ReLU{}, nn::Linear{32, 4}};
  nn::CrossEntropyLoss criterion;
  optim::Adam optimizer(model.parameters(), {.lr = 1e-2});
  float loss = 0;
  for (int step = 0; step < 300; ++step) {
    loss = criterion.forward(model.forward(x), y);
    optimizer.zero_grad();
    model.backward(criterion.backward());
    optimizer.step();
  }
  std::printf("consumer: final loss %.4f\n", loss);
  return loss < 0.2f ? 0 : 1;
}

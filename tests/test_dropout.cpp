#include <ember/ember.hpp>

#include <catch2/catch.hpp>
#include <string>

#include "helpers.hpp"

using namespace ember;

TEST_CASE("Dropout zeroes a fraction p, scales the rest by torch's factor, and backward uses the same mask",
          "[dropout][golden]") {
  const golden::File g("dropout.txt");  // computed with torch 1.13: ones(1).div_(1 - p), dropout's factor
  for (const double p : {0.1, 0.25, 0.3, 0.5, 0.9}) {
    INFO("p = " << p);
    manual_seed(4);
    nn::Dropout<float> dropout(p);
    Tensor<float> x({200, 100});
    for (index_t i = 0; i < x.numel(); ++i) x.data()[i] = 1.0f + static_cast<float>(i % 7);
    const auto& y = dropout.forward(x);
    const float scale = static_cast<float>(g["scale_" + std::to_string(static_cast<int>(p * 100 + 0.5))].values[0]);
    index_t dropped = 0;
    bool exact = true;
    for (index_t i = 0; i < x.numel(); ++i) {
      if (y.data()[i] == 0) ++dropped;
      else exact &= y.data()[i] == x.data()[i] * scale;
    }
    CHECK(exact);
    // 20,000 draws: the dropped fraction is within 5 standard deviations of p.
    const double fraction = static_cast<double>(dropped) / static_cast<double>(x.numel());
    CHECK(std::abs(fraction - p) < 5 * std::sqrt(p * (1 - p) / static_cast<double>(x.numel())));
    Tensor<float> dy({200, 100});
    dy.fill(2.0f);
    const auto& dx = dropout.backward(dy);
    bool same_mask = true;
    for (index_t i = 0; i < x.numel(); ++i) same_mask &= (y.data()[i] == 0) == (dx.data()[i] == 0);
    CHECK(same_mask);
  }
}

TEST_CASE("Dropout is the identity in eval mode and reproducible from manual_seed", "[dropout]") {
  Tensor<float> x({4, 50});
  x.fill(1.0f);
  manual_seed(1);
  nn::Dropout<float> a(0.5);
  manual_seed(1);
  nn::Dropout<float> b(0.5);
  const Tensor<float> ya = a.forward(x);
  const Tensor<float> yb = b.forward(x);
  CHECK((ya.array() == yb.array()).all());
  const Tensor<float> second = a.forward(x);
  CHECK_FALSE((second.array() == ya.array()).all());  // a new mask each step
  a.eval();
  CHECK(&a.forward(x) == &x);
  CHECK_THROWS_WITH(nn::Dropout<float>(1.5), Catch::Contains("between 0 and 1"));
  nn::Dropout<float> all(1.0);
  CHECK((all.forward(x).array() == 0).all());
}

TEST_CASE("Dropout's mask is the same on any thread count, and even and odd elements drop at rate p",
          "[dropout]") {
  // 600,000 elements: mnist_convnet's first Dropout at batch 64, drawn in parallel blocks.
  Tensor<float> x({64, 9375});
  x.fill(1.0f);
  const int threads_before = get_num_threads();
  Tensor<float> masks[2];
  for (const int threads : {1, 2}) {
    set_num_threads(threads);
    manual_seed(7);
    nn::Dropout<float> dropout(0.25);
    masks[threads - 1] = dropout.forward(x);
  }
  set_num_threads(threads_before);
  CHECK((masks[0].array() == masks[1].array()).all());
  // Each element's draw is one half of a 64-bit word: both halves must drop at rate p.
  index_t dropped[2] = {0, 0};
  for (index_t i = 0; i < x.numel(); ++i) dropped[i % 2] += masks[0].data()[i] == 0;
  const double half = static_cast<double>(x.numel()) / 2;
  for (const index_t d : dropped) CHECK(std::abs(static_cast<double>(d) / half - 0.25) < 5 * std::sqrt(0.25 * 0.75 / half));
  // Neighbours are independent: both of a pair dropped with probability p^2 = 1/16.
  index_t both = 0;
  for (index_t i = 0; i + 1 < x.numel(); i += 2) both += masks[0].data()[i] == 0 && masks[0].data()[i + 1] == 0;
  CHECK(std::abs(static_cast<double>(both) / half - 0.0625) < 5 * std::sqrt(0.0625 * 0.9375 / half));
}

TEST_CASE("Dropout masks a tensor of odd size to its last element", "[dropout]") {
  Tensor<float> x({3, 5});
  x.fill(1.0f);
  manual_seed(3);
  nn::Dropout<float> none(0.0), all(1.0);
  CHECK((none.forward(x).array() == 1.0f).all());
  CHECK((all.forward(x).array() == 0.0f).all());
}

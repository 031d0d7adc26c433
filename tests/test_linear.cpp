#include <ember/ember.hpp>
#include <ember/nn/gradcheck.hpp>

#include <catch2/catch.hpp>

#include "helpers.hpp"

using namespace ember;

TEST_CASE("Linear matches torch 1.13 nn.Linear(5, 3) forward and backward", "[linear][golden]") {
  const golden::File g("linear.txt");  // computed with torch 1.13 nn.Linear(5, 3)
  nn::Linear<float> layer(5, 3);
  layer.weight().value = test::to_tensor(g["weight"]);
  layer.bias().value = test::to_tensor(g["bias"]);
  const auto x = test::to_tensor(g["x"]);
  CHECK_CLOSE(layer.forward(x), g["y"]);
  CHECK_CLOSE(layer.backward(test::to_tensor(g["dy"])), g["dx"]);
  CHECK_CLOSE(layer.weight().grad, g["dweight"]);
  CHECK_CLOSE(layer.bias().grad, g["dbias"]);
}

TEST_CASE("Linear without bias matches torch 1.13 nn.Linear(5, 3, bias=False)", "[linear][golden]") {
  const golden::File g("linear.txt");
  nn::Linear<float> layer(5, 3, false);
  layer.weight().value = test::to_tensor(g["nobias.weight"]);
  CHECK(layer.named_parameters().size() == 1);
  const auto x = test::to_tensor(g["nobias.x"]);
  CHECK_CLOSE(layer.forward(x), g["nobias.y"]);
  CHECK_CLOSE(layer.backward(test::to_tensor(g["nobias.dy"])), g["nobias.dx"]);
  CHECK_CLOSE(layer.weight().grad, g["nobias.dweight"]);
  CHECK_THROWS_WITH(layer.bias(), Catch::Contains("no bias"));
}

TEST_CASE("Linear gradients pass the double-precision gradient check", "[linear][gradcheck]") {
  manual_seed(3);
  nn::Linear<double> with_bias(7, 5);
  auto r = nn::gradcheck(with_bias, test::random_tensor<double>({4, 7}, 2));
  INFO(r.report);
  CHECK(r.ok);
  nn::Linear<double> no_bias(3, 6, false);
  r = nn::gradcheck(no_bias, test::random_tensor<double>({2, 3}, 4));
  INFO(r.report);
  CHECK(r.ok);
}

TEST_CASE("Linear skips dx when its input needs no gradient", "[linear]") {
  nn::Linear<float> layer(4, 2);
  layer.set_needs_input_grad(false);
  Tensor<float> x({3, 4}), dy({3, 2});
  dy.fill(1);
  layer.forward(x);
  CHECK(layer.backward(dy).numel() == 0);
  CHECK(layer.bias().grad(0) == 3);  // parameter grads are still computed
}

TEST_CASE("Linear names its shape errors", "[linear]") {
  nn::Linear<float> layer(2704, 10);
  const Tensor<float> wrong({64, 2028}), image({64, 1, 52, 52}), right({64, 2704});
  CHECK_THROWS_WITH(layer.forward(wrong),
                    Catch::Contains("Linear(in_features=2704, out_features=10, bias=True)") &&
                        Catch::Contains("expected input of shape (N, 2704), got (64, 2028)"));
  CHECK_THROWS_WITH(layer.forward(image), Catch::Contains("use nn::Flatten"));
  CHECK_THROWS_WITH(layer.backward(Tensor<float>({64, 10})), Catch::Contains("needs a forward()"));
  layer.forward(right);
  CHECK_THROWS_WITH(layer.backward(Tensor<float>({64, 11})), Catch::Contains("expected dy of shape (64, 10)"));
  CHECK_THROWS_AS(nn::Linear<float>(0, 3), Error);
}

TEST_CASE("Linear in eval mode keeps nothing for backward", "[linear]") {
  nn::Linear<float> layer(3, 2);
  layer.eval();
  const Tensor<float> x({1, 3});
  layer.forward(x);
  CHECK_THROWS_WITH(layer.backward(Tensor<float>({1, 2})), Catch::Contains("train mode"));
}

TEST_CASE("Linear matches the naive sums exactly around the kernels' tiles, panels and packets", "[linear][reference]") {
  // y = x W^T + b runs on kernels::gemm_abt: tiles of up to 12 rows, panels of 4 packets of output
  // features (64 floats or 32 doubles with AVX-512), K transposed in packet-square blocks. dx =
  // dy W and dweight += dy^T x run on kernels::gemm_ab (blocks of up to 8 rows, a last partial
  // packet of in_features overlapping the one before; Eigen below one packet). The shapes put
  // a remainder at each of these, in train mode (panels split among threads) and in
  // eval mode (rows split among threads), on one and two threads with the work threshold at 0
  // so that two threads really split. Small integers make every sum exact.
  const auto check = [](auto zero) {
    using T = decltype(zero);
    Generator g(11);
    const auto integers = [&g](const Shape& shape) {
      Tensor<T> t(shape);
      for (index_t i = 0; i < t.numel(); ++i) t.data()[i] = static_cast<T>(g.below(7)) - T(3);
      return t;
    };
    struct Restore {  // the thread count and work threshold, also when a REQUIRE throws
      index_t min_work = ember::detail::parallel_min_work;
      int threads = get_num_threads();
      ~Restore() {
        ember::detail::parallel_min_work = min_work;
        set_num_threads(threads);
      }
    } restore;
    ember::detail::parallel_min_work = 0;
    for (const int threads : {1, 2})
      for (const index_t n : {1, 2, 3, 5, 12, 13, 25, 64})
        for (const index_t in : {1, 7, 8, 16, 17, 40})
          for (const index_t out : {1, 10, 16, 17, 33, 50, 64, 65, 130})
            for (const bool bias : {true, false})
              for (const bool train : {true, false}) {
                INFO(threads << " threads, x (" << n << ", " << in << "), Linear(" << in << ", " << out
                             << ", bias " << bias << "), " << (train ? "train" : "eval"));
                set_num_threads(threads);
                nn::Linear<T> layer(in, out, bias);
                if (!train) layer.eval();
                layer.weight().value = integers({out, in});
                if (bias) layer.bias().value = integers({out});
                const auto x = integers({n, in});
                const auto& y = layer.forward(x);
                REQUIRE(y.shape() == Shape{n, out});
                bool exact = true;
                for (index_t r = 0; r < n; ++r)
                  for (index_t o = 0; o < out; ++o) {
                    T sum = bias ? layer.bias().value(o) : T(0);
                    for (index_t i = 0; i < in; ++i) sum += x(r, i) * layer.weight().value(o, i);
                    exact = exact && y(r, o) == sum;
                  }
                CHECK(exact);

                if (!train) continue;
                const auto dy = integers({n, out});
                const auto grad0 = integers({out, in});  // backward adds to the gradient
                layer.weight().grad = grad0;
                const auto& dx = layer.backward(dy);
                REQUIRE(dx.shape() == Shape{n, in});
                bool dx_exact = true, dw_exact = true;
                for (index_t r = 0; r < n; ++r)
                  for (index_t i = 0; i < in; ++i) {
                    T sum = 0;
                    for (index_t o = 0; o < out; ++o) sum += dy(r, o) * layer.weight().value(o, i);
                    dx_exact = dx_exact && dx(r, i) == sum;
                  }
                for (index_t o = 0; o < out; ++o)
                  for (index_t i = 0; i < in; ++i) {
                    T sum = grad0(o, i);
                    for (index_t r = 0; r < n; ++r) sum += dy(r, o) * x(r, i);
                    dw_exact = dw_exact && layer.weight().grad(o, i) == sum;
                  }
                CHECK(dx_exact);
                CHECK(dw_exact);
              }
  };
  check(0.0f);
  check(0.0);
}

TEST_CASE("Linear keeps its packed weights while they are unchanged, and repacks after a step or a load",
          "[linear]") {
  // y must always be x W^T + b with the weights of the moment; the naive sum is the reference.
  const auto reference = [](nn::Linear<double>& fc, const Tensor<double>& x) {
    const auto& w = std::as_const(fc.weight().value);
    const auto& b = std::as_const(fc.bias().value);
    Tensor<double> y({x.size(0), w.size(0)});
    for (index_t r = 0; r < x.size(0); ++r)
      for (index_t o = 0; o < w.size(0); ++o) {
        double sum = b(o);
        for (index_t i = 0; i < w.size(1); ++i) sum += x(r, i) * w(o, i);
        y(r, o) = sum;
      }
    return y;
  };
  const auto close = [](const Tensor<double>& a, const Tensor<double>& b) {
    return a.shape() == b.shape() && (a.array() - b.array()).abs().maxCoeff() < 1e-12;
  };
  manual_seed(4);
  nn::Linear<double> fc(37, 21), other(37, 21);
  const auto x = test::random_tensor<double>({3, 37}, 1);
  fc.eval();
  CHECK(close(fc(x), reference(fc, x)));
  CHECK(close(fc(x), reference(fc, x)));  // from the kept packing
  // An optimizer's step writes the weights: the next forward repacks.
  fc.weight().grad.fill(1);
  fc.bias().grad.fill(1);
  optim::SGD sgd(fc.parameters(), {.lr = 0.5});
  sgd.step();
  CHECK(close(fc(x), reference(fc, x)));
  // So does a load, and a write through the parameter.
  fc.load_state_dict(other.state_dict());
  CHECK(close(fc(x), reference(other, x)));
  fc.bias().value(3) += 1;
  CHECK(close(fc(x), reference(fc, x)));
  // A copy packs its own.
  nn::Linear<double> copy = fc;
  copy.weight().value(0, 0) = 7;
  CHECK(close(copy(x), reference(copy, x)));
  CHECK(close(fc(x), reference(fc, x)));
}

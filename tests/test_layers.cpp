// One battery for every layer (dlib's test_layers is the model): adding a layer to `layers()`
// below runs all of these on it, in double precision:
//   - central-difference gradient check of dx and every parameter, and grads that accumulate;
//   - the layer used twice in one forward (in series) still gets exact gradients;
//   - an input changed between forward and backward: the same gradients, or an Error saying so;
//   - eval mode keeps nothing (backward after an eval forward is an error);
//   - a wrong input or dy shape throws an Error that names the layer;
//   - state_dict round trip: a fresh layer loaded with the state gives the same outputs.
// Models that write forward() only are in it too (tests/support/graph_models.hpp); every entry is
// called as layer(x), which records.
#include <ember/ember.hpp>
#include <ember/nn/gradcheck.hpp>

#include "graph_models.hpp"

#include <catch2/catch.hpp>
#include <functional>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

using namespace ember;

namespace {

using Layer = nn::Module<double>;

struct Entry {
  std::string name;                              // as printed: the Error must contain it
  std::function<std::unique_ptr<Layer>()> make;  // a fresh layer (seeded)
  Shape input;
  bool twice = true;                             // its output can be its input (reuse in series)
  std::optional<Shape> bad_input;                // an input shape it must refuse
};

template <class L, class... A>
std::function<std::unique_ptr<Layer>()> make(A... args) {
  return [=] { return std::unique_ptr<Layer>(std::make_unique<L>(args...)); };
}

std::vector<Entry> layers() {
  using namespace nn;
  return {
      {"Linear(in_features=5", make<Linear<double>>(5, 4), {3, 5}, false, Shape{3, 4}},
      {"Linear(in_features=4", make<Linear<double>>(4, 4, false), {3, 4}, true, Shape{3, 5}},
      {"Conv2d(2, 2", make<Conv2d<double>>(2, 2, Size2(3), Conv2dOptions{.padding = 1}), {2, 2, 5, 5}, true,
       Shape{2, 3, 5, 5}},
      {"Conv2d(2, 3", make<Conv2d<double>>(2, 3, Size2(3, 2), Conv2dOptions{.stride = {2, 1}}), {2, 2, 7, 6}, false,
       Shape{2, 2, 2, 1}},
      {"Conv2d(2, 2, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1), dilation=(2, 2)",
       make<Conv2d<double>>(2, 2, Size2(3), Conv2dOptions{.padding = 1, .dilation = 2}), {2, 2, 6, 6}, true,
       Shape{2, 2, 2, 2}},
      {"Conv2d(4, 6, kernel_size=(3, 2), stride=(2, 1), padding=(1, 1), dilation=(1, 2), groups=2",
       make<Conv2d<double>>(4, 6, Size2(3, 2), Conv2dOptions{.stride = {2, 1}, .padding = 1, .dilation = {1, 2},
                                                             .groups = 2}),
       {2, 4, 5, 6}, false, Shape{2, 6, 5, 6}},
      {"Conv2d(3, 3, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1), groups=3",
       make<Conv2d<double>>(3, 3, Size2(3), Conv2dOptions{.padding = 1, .groups = 3, .bias = false}), {2, 3, 5, 5},
       true, Shape{2, 2, 5, 5}},
      {"MaxPool2d(kernel_size=2", make<MaxPool2d<double>>(Size2(2)), {2, 3, 8, 8}, true, Shape{2, 3}},
      {"MaxPool2d(kernel_size=3", make<MaxPool2d<double>>(Size2(3), Size2(2), Size2(1)), {2, 2, 9, 9}, true,
       Shape{2, 2, 9}},
      {"MaxPool2d(kernel_size=3, stride=2, padding=1, dilation=1, ceil_mode=True",
       make<MaxPool2d<double>>(Size2(3), Size2(2), Size2(1), MaxPool2dOptions{.ceil_mode = true}), {2, 2, 8, 8}, true,
       Shape{2, 2, 8}},
      {"AvgPool2d(kernel_size=2", make<AvgPool2d<double>>(Size2(2)), {2, 3, 8, 8}, true, Shape{2, 3}},
      {"AvgPool2d(kernel_size=3, stride=2, padding=1",
       make<AvgPool2d<double>>(Size2(3), Size2(2), Size2(1), AvgPool2dOptions{.ceil_mode = true, .count_include_pad = false}),
       {2, 2, 8, 7}, true, Shape{2, 2, 8}},
      {"AdaptiveAvgPool2d(output_size=3)", make<AdaptiveAvgPool2d<double>>(Size2(3)), {2, 2, 5, 5}, true,
       Shape{2, 5, 5}},
      {"ReLU()", make<ReLU<double>>(), {3, 7}, true, std::nullopt},
      {"Sigmoid()", make<Sigmoid<double>>(), {3, 7}, true, std::nullopt},
      {"Tanh()", make<Tanh<double>>(), {2, 3, 4}, true, std::nullopt},
      {"LeakyReLU(negative_slope=0.2)", make<LeakyReLU<double>>(0.2), {3, 7}, true, std::nullopt},
      {"GELU(approximate='none')", make<GELU<double>>(), {3, 7}, true, std::nullopt},
      {"GELU(approximate='tanh')", make<GELU<double>>("tanh"), {2, 2, 3, 3}, true, std::nullopt},
      {"LogSoftmax(dim=1)", make<LogSoftmax<double>>(1), {3, 5}, true, Shape{3}},
      {"Softmax(dim=-1)", make<Softmax<double>>(-1), {2, 3, 2, 2}, true, Shape{}},
      {"Flatten(", make<Flatten<double>>(), {2, 3, 2, 2}, true, Shape{}},
      {"Dropout(p=0.3", make<Dropout<double>>(0.3), {4, 9}, true, std::nullopt},
      {"BatchNorm1d(4", make<BatchNorm1d<double>>(4), {5, 4}, true, Shape{5, 3}},
      {"BatchNorm1d(3", make<BatchNorm1d<double>>(3, BatchNormOptions{.momentum = std::nullopt}), {4, 3, 5}, true,
       Shape{4, 3, 5, 1}},
      {"BatchNorm2d(3", make<BatchNorm2d<double>>(3), {2, 3, 4, 4}, true, Shape{2, 3, 4}},
      {"BatchNorm2d(2, eps=0.001", make<BatchNorm2d<double>>(2, BatchNormOptions{.eps = 1e-3, .affine = false}),
       {3, 2, 3, 3}, true, Shape{3, 4, 3, 3}},
      {"BatchNorm2d(2, eps=1e-05, momentum=0.1, affine=True, track_running_stats=False",
       make<BatchNorm2d<double>>(2, BatchNormOptions{.track_running_stats = false}), {3, 2, 3, 3}, true, std::nullopt},
      {"Sequential", [] {
         auto s = std::make_unique<Sequential<double>>(Linear<double>{6, 6}, ReLU<double>{});
         Sequential<double> inner{Dropout<double>{0.2}, Linear<double>{6, 6}};
         s->push_back(std::move(inner));
         s->set_needs_input_grad(true);
         return std::unique_ptr<Layer>(std::move(s));
       }, {3, 6}, true, Shape{3, 5}},
      // Models that write forward() only (their backward is the recorded graph's).
      {"ResidualMlp", make<test::graph::ResidualMlp>(), {3, 20}, false, Shape{3, 21}},
      {"TwoBranch", make<test::graph::TwoBranch>(), {2, 1, 6, 6}, false, Shape{2, 1, 5, 5}},
      {"SharedLinear", make<test::graph::SharedLinear>(), {3, 8}, false, Shape{3, 7}},
      {"SmallMainPyNet", make<test::graph::SmallMainPyNet>(), {2, 1, 10, 10}, false, Shape{2, 1, 12, 12}},
  };
}

Tensor<double> random(const Shape& shape, std::uint64_t seed) {
  Generator g(seed);
  Tensor<double> t(shape);
  for (index_t i = 0; i < t.numel(); ++i) t.data()[i] = g.normal();
  return t;
}

// A layer applied twice in series: y = layer(layer(x)), backward in reverse. The same object's
// two uses must keep their own saved state.
class Twice final : public Layer {
 public:
  explicit Twice(Layer& l) : l_(l) {}
  const Tensor<double>& forward(const Tensor<double>& x) override { return l_(l_(x)); }
  const Tensor<double>& backward(const Tensor<double>& dy) override { return l_.backward(l_.backward(dy)); }
  void visit_state(nn::StateVisitor<double>& v, const nn::Name* prefix = nullptr) override { l_.visit_state(v, prefix); }
  void train(bool on = true) override {
    Layer::train(on);
    l_.train(on);
  }
  void print(std::ostream& out, int = 0) const override { out << "Twice(" << l_ << ")"; }

 private:
  Layer& l_;
};

// The parameter grads and dx of one forward + backward with dy.
struct Grads {
  std::vector<Tensor<double>> params;
  Tensor<double> dx;
};
Grads run(Layer& l, const Tensor<double>& x, const Tensor<double>& dy, bool mutate) {
  Tensor<double> input = x;
  l.zero_grad();
  l(input);
  if (mutate) input.data()[0] += 1.0;  // changed before backward
  Grads g;
  g.dx = l.backward(dy);
  for (auto* p : l.parameters()) g.params.push_back(p->grad);
  return g;
}

}  // namespace

TEST_CASE("every layer passes the layer battery", "[layers][gradcheck]") {
  for (const Entry& e : layers()) {
    SECTION(e.name) {
      manual_seed(3);
      auto layer = e.make();
      layer->set_needs_input_grad(true);
      const auto x = random(e.input, 5);
      const Shape y_shape = (*layer)(x).shape();
      {
        INFO("gradient check");
        const auto r = nn::gradcheck(*layer, x);
        INFO(r.report);
        CHECK(r.ok);
        CHECK(r.checked == (layer->needs_input_grad() ? x.numel() : 0) + nn::num_parameters(*layer));
      }
      if (e.twice) {
        INFO("used twice in one forward");
        Twice twice(*layer);
        twice.set_needs_input_grad(true);
        const auto r = nn::gradcheck(twice, x);
        INFO(r.report);
        CHECK(r.ok);
      }
      {
        INFO("input changed between forward and backward");
        const auto dy = random(y_shape, 6);
        const auto rewind = nn::detail::generator_rewinder(*layer);
        rewind();
        const Grads clean = run(*layer, x, dy, false);
        rewind();
        try {
          const Grads changed = run(*layer, x, dy, true);
          for (std::size_t k = 0; k < clean.params.size(); ++k)
            CHECK((clean.params[k].array() == changed.params[k].array()).all());
          CHECK((clean.dx.array() == changed.dx.array()).all());
        } catch (const Error& err) {
          CHECK_THAT(err.what(), Catch::Contains(e.name) && Catch::Contains("modified"));
        }
      }
      {
        INFO("eval keeps nothing");
        layer->eval();
        (*layer)(x);
        CHECK_THROWS_WITH(layer->backward(random(y_shape, 7)), Catch::Contains("train mode"));
        layer->train();
      }
      {
        INFO("shape errors name the layer");
        (*layer)(x);
        CHECK_THROWS_WITH(layer->backward(Tensor<double>({1, 2, 3})), Catch::Contains(e.name));
        if (e.bad_input) {
          const Tensor<double> bad(*e.bad_input);
          CHECK_THROWS_WITH((*layer)(bad), Catch::Contains(e.name));
        }
      }
      {
        INFO("state_dict round trip");
        (*layer)(x);  // BatchNorm: running statistics change
        manual_seed(99);
        auto fresh = e.make();
        fresh->load_state_dict(layer->state_dict());
        layer->eval();
        fresh->eval();
        const Tensor<double> a = (*layer)(x);
        const Tensor<double> b = (*fresh)(x);
        CHECK((a.array() == b.array()).all());
      }
    }
  }
}

TEST_CASE("the battery's checks fail on a wrong gradient", "[layers][gradcheck]") {
  // A ReLU whose backward forgets the mask: the gradient check must say so.
  struct WrongRelu final : nn::Module<double> {
    nn::ReLU<double> relu;
    const Tensor<double>& forward(const Tensor<double>& x) override { return relu.forward(x); }
    const Tensor<double>& backward(const Tensor<double>& dy) override {
      relu.backward(dy);
      return dy;
    }
    void print(std::ostream& out, int = 0) const override { out << "WrongRelu()"; }
  } wrong;
  const auto r = nn::gradcheck(wrong, random({3, 4}, 1));
  CHECK_FALSE(r.ok);
}

TEST_CASE("a layer object's saved state is one slot per use; a second backward needs a new forward", "[layers]") {
  nn::ReLU<double> relu;
  const auto x = random({2, 3}, 1);
  relu.forward(x);
  relu.backward(random({2, 3}, 2));
  CHECK_THROWS_WITH(relu.backward(random({2, 3}, 2)),
                    Catch::Contains("ReLU(): backward() needs a forward() in train mode first") &&
                        Catch::Contains("a second backward() needs a new forward()"));
}

TEST_CASE("forward repeated in train mode on the same input is a new step each time, not a reuse", "[layers]") {
  // A benchmark loop, or an evaluation that forgot eval(): the layer keeps one saved state, not
  // one per call (which would hold 16 sets of activations).
  nn::Conv2d<double> conv(1, 2, 3);
  const auto x = random({2, 1, 5, 5}, 1);
  for (int i = 0; i < 3; ++i) conv.forward(x);
  const auto dy = random({2, 2, 3, 3}, 2);
  conv.backward(dy);
  CHECK_THROWS_WITH(conv.backward(dy), Catch::Contains("a second backward() needs a new forward()"));
}

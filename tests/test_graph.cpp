// Models written with forward() only: the recorded graph of layer calls (nn/graph.hpp), the one
// member list (EMBER_MODULE), nn::functional, and every way of getting it wrong being an Error.
#include <ember/ember.hpp>
#include <ember/nn/gradcheck.hpp>

#include <catch2/catch.hpp>
#include <algorithm>
#include <cmath>
#include <functional>
#include <sstream>
#include <string>

#include "golden.hpp"
#include "graph_models.hpp"
#include "helpers.hpp"


namespace graph_test {

using namespace ember;
using namespace test::graph;
using T = double;
using Tn = Tensor<double>;

// tests/golden/make_golden_graph.py's formula(): offset + scale * sin(1 + 0.37 i + 0.11 k).
void fill_formula(Tn& t, int k, double scale, double offset = 0) {
  for (index_t i = 0; i < t.numel(); ++i) t.data()[i] = offset + scale * std::sin(1.0 + 0.37 * double(i) + 0.11 * k);
}
void set_weights(nn::Module<double>& m) {
  int k = 0;
  for (auto& [name, p] : m.named_parameters()) {
    const double fan_in = p.value.dim() > 1 ? double(p.value.numel() / p.value.size(0)) : 10.0;
    fill_formula(p.value, k++, 1 / std::sqrt(fan_in));
  }
}

const test::Tolerance exact{.rtol = 1e-9, .atol = 1e-12};  // double sums in another order than torch's

template <class Model, class... Args>
void check_golden(const std::string& name, const Shape& input, bool nll, Args... args) {
  static const golden::File g("graph_models.txt");
  Model model(args...);
  set_weights(model);
  model.set_needs_input_grad(true);
  Tn x(input);
  fill_formula(x, 100, 0.5, 0.5);
  const auto labels = test::to_labels(g[name + ".labels"]);
  nn::NLLLoss<T> nll_loss;
  nn::CrossEntropyLoss<T> ce;
  model.zero_grad();
  const Tn& out = model(x);
  CHECK(test::mismatch(out, g[name + ".output"], exact).empty());
  const double loss = nll ? nll_loss.forward(out, labels) : ce.forward(out, labels);
  CHECK(loss == Approx(g[name + ".loss"].values[0]).epsilon(1e-12));
  const Tn dx = model.backward(nll ? nll_loss.backward() : ce.backward());
  CHECK(test::mismatch(dx, g[name + ".dx"], exact).empty());
  for (auto& [pname, p] : model.named_parameters()) {
    INFO(name << " " << pname);
    const std::string key = name + ".grad." + pname;
    if (g.contains(key)) {
      CHECK(test::mismatch(p.grad, g[key], exact).empty());
      continue;
    }
    const index_t n = p.grad.numel(), every = n / 4096 + 1;
    Tn sampled({(n + every - 1) / every});
    double sum = 0, sumsq = 0;
    for (index_t i = 0; i < n; ++i) {
      const double v = std::as_const(p.grad).data()[i];
      if (i % every == 0) sampled.data()[i / every] = v;
      sum += v;
      sumsq += v * v;
    }
    CHECK(test::mismatch(sampled, g[key + ".every_" + std::to_string(every)], exact).empty());
    CHECK(sum == Approx(g[key + ".sum"].values[0]).epsilon(1e-9).margin(1e-12));
    CHECK(sumsq == Approx(g[key + ".sumsq"].values[0]).epsilon(1e-9));
  }
}

Tn random(const Shape& s, std::uint64_t seed) { return test::random_tensor<double>(s, seed); }


TEST_CASE("forward-only models give torch's outputs, loss and gradients", "[graph][golden]") {
  // Golden values computed with torch 1.13 in float64 (tests/golden/make_golden_graph.py).
  SECTION("main.py's Net") { check_golden<MainPyNet>("main_py", {2, 1, 28, 28}, true, 0.0, 0.0); }
  SECTION("the seed CNN") { check_golden<SeedCnn>("seed_cnn", {3, 1, 28, 28}, false); }
  SECTION("a residual MLP (one tensor feeds two ops)") { check_golden<ResidualMlp>("residual", {3, 20}, false); }
  SECTION("two branches joined by cat") { check_golden<TwoBranch>("two_branch", {3, 1, 6, 6}, false); }
  SECTION("one Linear applied twice") { check_golden<SharedLinear>("shared", {3, 8}, false); }
}

TEST_CASE("forward-only models pass the gradient check, and it fails on a wrong gradient", "[graph][gradcheck]") {
  manual_seed(1);
  SECTION("residual") {
    ResidualMlp m;
    m.set_needs_input_grad(true);
    const auto r = nn::gradcheck(m, random({3, 20}, 2));
    INFO(r.report);
    CHECK(r.ok);
    CHECK(r.checked == 3 * 20 + nn::num_parameters(m));
  }
  SECTION("two branches") {
    TwoBranch m;
    m.set_needs_input_grad(true);
    const auto r = nn::gradcheck(m, random({2, 1, 6, 6}, 3));
    INFO(r.report);
    CHECK(r.ok);
  }
  SECTION("shared weights") {
    SharedLinear m;
    m.set_needs_input_grad(true);
    const auto r = nn::gradcheck(m, random({3, 8}, 4));
    INFO(r.report);
    CHECK(r.ok);
  }
  SECTION("a Linear in two branches; and a wrong gradient is caught") {
    struct Cut : nn::Module<double> {
      nn::Linear<T> fc1{6, 5}, fc2{5, 5};
      EMBER_MODULE(Cut, fc1, fc2)
      const Tn& forward(const Tn& x) override {
        const auto& h = F::relu(fc1(x));
        return F::add(fc2(h), F::relu(fc1(x)));  // fc1 twice: the true gradient has both uses
      }
    } good;
    good.set_needs_input_grad(true);
    CHECK(nn::gradcheck(good, random({2, 6}, 5)).ok);
    struct Wrong : nn::Module<double> {
      nn::Linear<T> fc1{6, 5};
      EMBER_MODULE(Wrong, fc1)
      const Tn& forward(const Tn& x) override { return fc1(x); }
      const Tn& backward(const Tn& dy) override {
        const Tn& dx = nn::Module<double>::backward(dy);
        fc1.weight().grad.data()[0] += 0.1;  // a wrong parameter gradient
        return dx;
      }
    } wrong;
    CHECK_FALSE(nn::gradcheck(wrong, random({2, 6}, 5)).ok);
  }
}

// One op of nn::functional applied to x, in a model of its own.
struct Apply : nn::Module<double> {
  std::function<const Tn&(const Tn&)> op;
  EMBER_MODULE(Apply)
  explicit Apply(std::function<const Tn&(const Tn&)> f) : op(std::move(f)) { set_needs_input_grad(true); }
  const Tn& forward(const Tn& x) override { return op(x); }
};

TEST_CASE("each functional op gives its layer's values and gradients, and passes the gradient check", "[graph]") {
  // The layers' own golden tests (torch 1.13) then hold for the ops: an op runs the same layer.
  const auto same = [](const std::function<const Tn&(const Tn&)>& op, nn::Module<double>& layer, const Shape& in) {
    const Tn x = random(in, 11);
    Apply model(op);
    const Tn y = model(x);
    const Tn dy = random(y.shape(), 12);
    const Tn dx = model.backward(dy);
    layer.set_needs_input_grad(true);
    const Tn& y_layer = layer.forward(x);
    CHECK((y.array() == y_layer.array()).all());
    CHECK((dx.array() == layer.backward(dy).array()).all());
    const auto r = nn::gradcheck(model, x);
    INFO(r.report);
    CHECK(r.ok);
    CHECK(r.checked == x.numel());
  };
  nn::LeakyReLU<T> leaky(0.2);
  same([](const Tn& x) -> const Tn& { return F::leaky_relu(x, 0.2); }, leaky, {3, 7});
  nn::Sigmoid<T> sigmoid;
  same([](const Tn& x) -> const Tn& { return F::sigmoid(x); }, sigmoid, {3, 7});
  nn::Tanh<T> tanh;
  same([](const Tn& x) -> const Tn& { return F::tanh(x); }, tanh, {3, 7});
  nn::GELU<T> gelu("tanh");
  same([](const Tn& x) -> const Tn& { return F::gelu(x, "tanh"); }, gelu, {3, 7});
  nn::GELU<T> gelu_erf;
  same([](const Tn& x) -> const Tn& { return F::gelu(x); }, gelu_erf, {3, 7});
  nn::Softmax<T> softmax(1);
  same([](const Tn& x) -> const Tn& { return F::softmax(x, 1); }, softmax, {3, 5});
  nn::LogSoftmax<T> log_softmax(-1);
  same([](const Tn& x) -> const Tn& { return F::log_softmax(x, -1); }, log_softmax, {2, 3, 4});
  nn::AvgPool2d<T> avg(3, 2, 1, {.ceil_mode = true});
  same([](const Tn& x) -> const Tn& { return F::avg_pool2d(x, 3, 2, 1, {.ceil_mode = true}); }, avg, {2, 2, 7, 7});
  nn::MaxPool2d<T> max(nn::Size2(2, 3));
  same([](const Tn& x) -> const Tn& { return F::max_pool2d(x, {2, 3}); }, max, {2, 2, 6, 6});
  nn::Flatten<T> flatten(0, 2);
  same([](const Tn& x) -> const Tn& { return F::flatten(x, 0, 2); }, flatten, {2, 3, 2, 2});
  nn::ReLU<T> relu;
  same([](const Tn& x) -> const Tn& { return F::view(F::relu(F::reshape(x, {-1, 4})), {2, 6}); }, relu, {2, 6});

  // dropout: a mask of 0 and 1 / (1 - p) in training, the input itself otherwise.
  Apply drop([](const Tn& x) -> const Tn& { return F::dropout(x, 0.25); });
  const Tn x = random({40, 50}, 3);
  const Tn& y = drop(x);
  index_t zeros = 0;
  for (index_t i = 0; i < x.numel(); ++i) {
    const double v = y.data()[i];
    zeros += v == 0;
    if (v != 0) CHECK(v == Approx(x.data()[i] / 0.75).epsilon(1e-15));
  }
  CHECK(zeros > 400);  // 25% of 2,000
  CHECK(zeros < 600);
  Apply off([](const Tn& x) -> const Tn& { return F::dropout(x, 0.25, false); });
  CHECK(&off(x) == &x);
}

TEST_CASE("every layer prints PyTorch's repr", "[graph][repr]") {
  // Expected strings: repr() of the same layers in torch 1.13 (nn.Linear(784, 128), ...).
  const auto check = [](const auto& layer, const std::string& torch) {
    std::ostringstream out;
    out << layer;
    CHECK(out.str() == torch);
  };
  check(nn::Linear<>(784,128), "Linear(in_features=784, out_features=128, bias=True)");
  check(nn::Linear<>(3,4,false), "Linear(in_features=3, out_features=4, bias=False)");
  check(nn::Conv2d<>(1,32,3), "Conv2d(1, 32, kernel_size=(3, 3), stride=(1, 1))");
  check(nn::Conv2d<>(1,32,3,{.stride=1}), "Conv2d(1, 32, kernel_size=(3, 3), stride=(1, 1))");
  check(nn::Conv2d<>(6,16,5,{.padding=2}), "Conv2d(6, 16, kernel_size=(5, 5), stride=(1, 1), padding=(2, 2))");
  check(nn::Conv2d<>(4,8,nn::Size2(3,5),{.stride=2,.padding={1,2},.dilation=2,.groups=2,.bias=false}), "Conv2d(4, 8, kernel_size=(3, 5), stride=(2, 2), padding=(1, 2), dilation=(2, 2), groups=2, bias=False)");
  check(nn::MaxPool2d<>(2), "MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)");
  check(nn::MaxPool2d<>(3,nn::Size2(2),1,{.ceil_mode=true}), "MaxPool2d(kernel_size=3, stride=2, padding=1, dilation=1, ceil_mode=True)");
  check(nn::MaxPool2d<>(nn::Size2(2,3)), "MaxPool2d(kernel_size=(2, 3), stride=(2, 3), padding=0, dilation=1, ceil_mode=False)");
  check(nn::AvgPool2d<>(2), "AvgPool2d(kernel_size=2, stride=2, padding=0)");
  check(nn::AvgPool2d<>(3,nn::Size2(2),1,{.ceil_mode=true,.count_include_pad=false}), "AvgPool2d(kernel_size=3, stride=2, padding=1)");
  check(nn::AdaptiveAvgPool2d<>(1), "AdaptiveAvgPool2d(output_size=1)");
  check(nn::AdaptiveAvgPool2d<>(nn::Size2(2,3)), "AdaptiveAvgPool2d(output_size=(2, 3))");
  check(nn::ReLU<>(), "ReLU()");
  check(nn::Sigmoid<>(), "Sigmoid()");
  check(nn::Tanh<>(), "Tanh()");
  check(nn::LeakyReLU<>(), "LeakyReLU(negative_slope=0.01)");
  check(nn::LeakyReLU<>(0.2), "LeakyReLU(negative_slope=0.2)");
  check(nn::GELU<>(), "GELU(approximate='none')");
  check(nn::GELU<>("tanh"), "GELU(approximate='tanh')");
  check(nn::Softmax<>(1), "Softmax(dim=1)");
  check(nn::LogSoftmax<>(1), "LogSoftmax(dim=1)");
  check(nn::Flatten<>(), "Flatten(start_dim=1, end_dim=-1)");
  check(nn::Flatten<>(0,2), "Flatten(start_dim=0, end_dim=2)");
  check(nn::Dropout<>(0.25), "Dropout(p=0.25, inplace=False)");
  check(nn::Dropout<>(), "Dropout(p=0.5, inplace=False)");
  check(nn::BatchNorm1d<>(10), "BatchNorm1d(10, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)");
  check(nn::BatchNorm2d<>(16, {.eps=1e-3, .momentum=std::nullopt, .affine=false, .track_running_stats=false}), "BatchNorm2d(16, eps=0.001, momentum=None, affine=False, track_running_stats=False)");
}

TEST_CASE("a model prints PyTorch's repr", "[graph][repr]") {
  // Expected strings: repr() of the same modules in torch 1.13.
  MainPyNet net;
  std::ostringstream out;
  out << net;
  CHECK(out.str() ==
        "MainPyNet(\n  (conv1): Conv2d(1, 32, kernel_size=(3, 3), stride=(1, 1))\n  (conv2): Conv2d(32, 64, "
        "kernel_size=(3, 3), stride=(1, 1))\n  (dropout1): Dropout(p=0.25, inplace=False)\n  (dropout2): "
        "Dropout(p=0.5, inplace=False)\n  (fc1): Linear(in_features=9216, out_features=128, bias=True)\n  (fc2): "
        "Linear(in_features=128, out_features=10, bias=True)\n)");
}

struct Block : nn::Module<double> {
  nn::Linear<T> fc{4, 4};
  nn::BatchNorm1d<T> bn{4};
  nn::Dropout<T> drop{0.1};
  EMBER_MODULE(Block, fc, bn, drop)
  const Tn& forward(const Tn& x) override { return drop(bn(fc(x))); }
};
struct Outer : nn::Module<double> {
  nn::Sequential<T> features{nn::Linear<T>{8, 4}, nn::ReLU<T>{},
                             nn::Sequential<T>{nn::Dropout<T>{0.2}, nn::BatchNorm1d<T>{4}}};
  Block block;
  nn::Linear<T> head{4, 2};
  EMBER_MODULE(Outer, features, block, head)
  const Tn& forward(const Tn& x) override { return head(block(features(x))); }
};

TEST_CASE("a nested model: PyTorch's repr, state names, and eval() reaching every descendant", "[graph]") {
  Outer m;
  std::ostringstream out;
  out << m;
  CHECK(out.str() ==  // repr() of the same modules in torch 1.13
        "Outer(\n  (features): Sequential(\n    (0): Linear(in_features=8, out_features=4, bias=True)\n    (1): "
        "ReLU()\n    (2): Sequential(\n      (0): Dropout(p=0.2, inplace=False)\n      (1): BatchNorm1d(4, "
        "eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)\n    )\n  )\n  (block): Block(\n    (fc): "
        "Linear(in_features=4, out_features=4, bias=True)\n    (bn): BatchNorm1d(4, eps=1e-05, momentum=0.1, "
        "affine=True, track_running_stats=True)\n    (drop): Dropout(p=0.1, inplace=False)\n  )\n  (head): "
        "Linear(in_features=4, out_features=2, bias=True)\n)");
  std::ostringstream empty;
  empty << nn::Sequential<T>{};
  CHECK(empty.str() == "Sequential()");

  std::vector<std::string> names;
  for (auto& [name, p] : m.named_parameters()) names.push_back(name);
  CHECK(names == std::vector<std::string>{"features.0.weight", "features.0.bias", "features.2.1.weight",
                                          "features.2.1.bias", "block.fc.weight", "block.fc.bias",
                                          "block.bn.weight", "block.bn.bias", "head.weight", "head.bias"});
  std::vector<std::string> buffers;
  for (auto& b : m.named_buffers()) buffers.push_back(b.name);
  CHECK(buffers == std::vector<std::string>{"features.2.1.running_mean", "features.2.1.running_var",
                                            "features.2.1.num_batches_tracked", "block.bn.running_mean",
                                            "block.bn.running_var", "block.bn.num_batches_tracked"});
  const auto modules = m.named_modules();
  CHECK(modules.size() == 12);  // "", features, its 0, 1, 2, 2.0, 2.1, block, its fc, bn, drop, head
  CHECK(modules[5].first == "features.2.0");

  m.eval();
  for (auto& [name, module] : m.named_modules()) {
    INFO(name);
    CHECK_FALSE(module->is_training());
  }
  m.train();
  for (auto& [name, module] : m.named_modules()) CHECK(module->is_training());

  // The model trains end to end: a nested forward-only block and Sequentials, gradients checked.
  manual_seed(2);
  Outer fresh;
  fresh.set_needs_input_grad(true);
  const auto r = nn::gradcheck(fresh, random({5, 8}, 3), {.seed = 4});
  INFO(r.report);
  CHECK(r.ok);
  CHECK(fresh.block.bn.num_batches_tracked().item() > 0);
}

TEST_CASE("a model's input needs no gradient by default, as images; the first layer then skips dx", "[graph]") {
  SeedCnn m;
  CHECK_FALSE(m.needs_input_grad());
  CHECK(m.conv1.needs_input_grad());
  const Tn x = random({2, 1, 28, 28}, 1);
  const Tn& y = m(x);
  const Tn dx = m.backward(random(y.shape(), 2));
  CHECK(dx.numel() == 0);
  CHECK_FALSE(m.conv1.needs_input_grad());  // set from the graph: conv1 computed no dx
  m.set_needs_input_grad(true);
  m(x);
  CHECK(m.backward(random(y.shape(), 2)).shape() == x.shape());
  CHECK(m.conv1.needs_input_grad());
}

TEST_CASE("every misuse of a forward-only model is an Error naming the model and what to do", "[graph][errors]") {
  const Tn x = random({3, 20}, 1);
  SECTION("backward() without a forward") {
    ResidualMlp m;
    CHECK_THROWS_WITH(m.backward(random({3, 5}, 2)),
                      Catch::Contains("ResidualMlp: backward() has no recorded forward") && Catch::Contains("model(x)"));
  }
  SECTION("backward() twice for one forward") {
    ResidualMlp m;
    const Tn& y = m(x);
    const Tn dy = random(y.shape(), 2);
    m.backward(dy);
    CHECK_THROWS_WITH(m.backward(dy), Catch::Contains("ResidualMlp") && Catch::Contains("a second backward() needs a new forward()"));
  }
  SECTION("backward() after an eval forward") {
    ResidualMlp m;
    m.eval();
    m(x);
    CHECK_THROWS_WITH(m.backward(random({3, 5}, 2)), Catch::Contains("ResidualMlp") && Catch::Contains("train mode"));
  }
  SECTION("a layer called in forward but missing from the member list") {
    struct Forgot : nn::Module<double> {
      nn::Linear<T> fc1{20, 6}, fc2{6, 3};
      EMBER_MODULE(Forgot, fc1)  // fc2 left out
      const Tn& forward(const Tn& in) override { return fc2(F::relu(fc1(in))); }
    } m;
    const Tn& y = m(x);
    CHECK_THROWS_WITH(m.backward(random(y.shape(), 2)),
                      Catch::Contains("Forgot: backward(): Linear(in_features=6, out_features=3, bias=True) was called "
                                      "in forward() but is not in the model's member list"));
    CHECK(m.named_parameters().size() == 2);  // and so it would not be saved either
  }
  SECTION("a result copied out of the graph") {
    struct Copies : nn::Module<double> {
      nn::Linear<T> fc1{20, 6}, fc2{6, 3};
      Tn h;
      EMBER_MODULE(Copies, fc1, fc2)
      const Tn& forward(const Tn& in) override {
        h = fc1(in);  // a copy: fc1 would get no gradient
        return fc2(h);
      }
    } m;
    CHECK_THROWS_WITH(m(x), Catch::Contains("Copies layer fc2") && Catch::Contains("neither the model's input") &&
                                Catch::Contains("const auto& h = conv1(x)"));
  }
  SECTION("a layer called as layer.forward(h), which records nothing") {
    struct Bypass : nn::Module<double> {
      nn::Linear<T> fc1{20, 6}, fc2{6, 3};
      EMBER_MODULE(Bypass, fc1, fc2)
      const Tn& forward(const Tn& in) override { return fc2(fc1.forward(in)); }
    } m;
    CHECK_THROWS_WITH(m(x), Catch::Contains("Bypass layer fc2") && Catch::Contains("conv1.forward(x) is not recorded"));
  }
  SECTION("a view made outside the graph") {
    struct View : nn::Module<double> {
      nn::Linear<T> fc{20, 3};
      Tn v;
      EMBER_MODULE(View, fc)
      const Tn& forward(const Tn& in) override {
        v = in.reshape({3, 20});
        return fc(v);
      }
    } m;
    CHECK_THROWS_WITH(m(x), Catch::Contains("View layer fc") && Catch::Contains("F::reshape"));
  }
  SECTION("forward() returning a tensor the graph did not make") {
    struct Returns : nn::Module<double> {
      nn::Linear<T> fc{20, 3};
      Tn out{3, 3};
      EMBER_MODULE(Returns, fc)
      const Tn& forward(const Tn& in) override {
        fc(in);
        return out;
      }
    } m;
    m(x);
    CHECK_THROWS_WITH(m.backward(random({3, 3}, 1)),
                      Catch::Contains("Returns: backward(): forward() returned a tensor that no recorded layer"));
  }
  SECTION("the model's input changed between forward and backward") {
    ResidualMlp m;
    Tn in = x;
    const Tn& y = m(in);
    in.data()[0] += 1;
    CHECK_THROWS_WITH(m.backward(random(y.shape(), 2)),
                      Catch::Contains("ResidualMlp layer fc1 backward") && Catch::Contains("modified before backward()"));
  }
  SECTION("a layer of your own with one saved state, used twice") {
    struct Scale final : nn::Module<double> {  // y = 2x, keeping x for a (pretend) backward
      const Tn* saved = nullptr;
      Tn y, dx;
      const Tn& forward(const Tn& in) override {
        saved = &in;
        y = in;
        y.array() *= 2;
        return y;
      }
      const Tn& backward(const Tn& dy) override {
        dx = dy;
        dx.array() *= 2;
        return dx;
      }
      void print(std::ostream& out, int = 0) const override { out << "Scale()"; }
    };
    struct Twice : nn::Module<double> {
      Scale scale;
      nn::Linear<T> fc{20, 20};
      EMBER_MODULE(Twice, scale, fc)
      const Tn& forward(const Tn& in) override { return scale(fc(scale(in))); }
    } m;
    CHECK_THROWS_WITH(m(x), Catch::Contains("Twice layer scale (Scale()) is called twice in one forward") &&
                                Catch::Contains("keeps one saved state"));
    // Used once, it is a leaf node whose own backward runs.
    struct Once : nn::Module<double> {
      Scale scale;
      nn::Linear<T> fc{20, 3};
      EMBER_MODULE(Once, scale, fc)
      const Tn& forward(const Tn& in) override { return fc(scale(in)); }
    } once;
    once.set_needs_input_grad(true);
    const Tn& y = once(x);
    const Tn dy = random(y.shape(), 3);
    const Tn dx = once.backward(dy);
    const Eigen::MatrixXd want = 2 * dy.matrix() * std::as_const(once.fc.weight().value).matrix();
    CHECK((dx.matrix() - want).cwiseAbs().maxCoeff() < 1e-12);
  }
  SECTION("a functional op outside a model's forward") {
    CHECK_THROWS_WITH(F::relu(x), Catch::Contains("nn::functional::relu: called outside a model's forward"));
    struct Direct : nn::Module<double> {
      nn::Linear<T> fc{20, 3};
      EMBER_MODULE(Direct, fc)
      const Tn& forward(const Tn& in) override { return F::relu(fc(in)); }
    } m;
    CHECK_THROWS_WITH(m.forward(x), Catch::Contains("model.forward(x) runs your forward without recording it"));
    CHECK_NOTHROW(m(x));
  }
  SECTION("shapes that do not fit an op") {
    struct Bad : nn::Module<double> {
      nn::Linear<T> fc{20, 3};
      EMBER_MODULE(Bad, fc)
      const Tn& forward(const Tn& in) override { return F::add(fc(in), in); }
    } m;
    CHECK_THROWS_WITH(m(x), Catch::Contains("nn::functional::add: shapes (3, 3) and (3, 20) differ"));
  }
}

TEST_CASE("a forward-only model: copies own their layers, and the graph is rebuilt each step", "[graph]") {
  manual_seed(5);
  ResidualMlp a;
  ResidualMlp b = a;  // a copy owns its layers (and records its own graph)
  const Tn x = random({3, 20}, 1);
  const Tn ya = a(x);
  const Tn& yb = b(x);
  CHECK((ya.array() == yb.array()).all());
  b.fc1.weight().value.data()[0] += 1;
  CHECK(b(x).array().matrix() != a(x).array().matrix());
  // Steps repeat: each forward makes a new graph; gradients accumulate as in PyTorch.
  ResidualMlp m;
  const Tn dy = random({3, 5}, 2);
  m(x);
  m.backward(dy);
  const Tn once = m.fc1.weight().grad;
  m(x);
  m.backward(dy);
  CHECK((m.fc1.weight().grad.array() - 2 * once.array()).abs().maxCoeff() < 1e-12);
}

TEST_CASE("Tensor::item() reads a one-element tensor", "[graph][tensor]") {
  nn::BatchNorm1d<float> bn(3);
  CHECK(bn.num_batches_tracked().item() == 0);
  Tensor<float> t({1});
  t.fill(2.5f);
  CHECK(t.item() == 2.5f);
  CHECK_THROWS_WITH(Tensor<float>({2}).item(), Catch::Contains("the tensor has 2 elements"));
}

}  // namespace graph_test

namespace graph_test {

// A nested block called twice, its layer also called directly, a layer used twice and functional
// ops: what dist::DataParallel's hook sees.
struct HookBlock : nn::Module<T> {
  nn::Linear<T> fc{6, 6};
  EMBER_MODULE(HookBlock, fc)
  const Tn& forward(const Tn& x) override { return F::relu(fc(x)); }
};
struct HookNet : nn::Module<T> {
  nn::Linear<T> fc1{4, 6};
  HookBlock block;
  nn::Linear<T> fc2{6, 6};
  nn::Linear<T> out{6, 3};
  EMBER_MODULE(HookNet, fc1, block, fc2, out)
  const Tn& forward(const Tn& x) override {
    const auto& h = block(block(F::relu(fc1(x))));  // the nested model twice
    const auto& g = block.fc(h);                     // and its layer once more, directly
    return out(fc2(F::add(fc2(g), g)));              // fc2 twice
  }
};

// Records each layer_done call with a copy of that layer's gradients at that moment.
struct Recorder final : nn::detail::BackwardObserver<T> {
  std::vector<std::pair<nn::Module<T>*, std::vector<Tn>>> calls;
  void layer_done(nn::Module<T>& layer) override {
    std::vector<Tn> grads;
    for (auto* p : layer.parameters()) grads.push_back(p->grad);
    calls.emplace_back(&layer, grads);
  }
};

TEST_CASE("a recorded backward tells its observer when each layer's gradients are complete", "[graph][distributed]") {
  manual_seed(3);
  HookNet net;
  net.train();
  Tn x({5, 4});
  fill_formula(x, 1, 1.0);
  Recorder recorder;
  const auto& y = net(x);
  Tn dy(y.shape());
  fill_formula(dy, 2, 1.0);
  net.zero_grad();
  nn::detail::backward_observer<T>() = &recorder;
  net.backward(dy);
  nn::detail::backward_observer<T>() = nullptr;

  // Each module once, when its last use is unwound (fc2's first call; block.fc's use in the
  // block's first call, after its direct use and its use in the second call), in that order.
  std::vector<nn::Module<T>*> order;
  for (auto& [layer, grads] : recorder.calls) order.push_back(layer);
  CHECK(order == std::vector<nn::Module<T>*>{&net.out, &net.fc2, &net.block.fc, &net.block, &net.fc1});
  // What each layer's grads were when it was reported is what they are after the whole backward.
  for (auto& [layer, grads] : recorder.calls) {
    const auto params = layer->parameters();
    REQUIRE(params.size() == grads.size());
    for (std::size_t i = 0; i < params.size(); ++i) {
      const Tn& now = params[i]->grad;
      REQUIRE(now.shape() == grads[i].shape());
      CHECK(std::equal(now.data(), now.data() + now.numel(), grads[i].data()));
    }
  }
  // Without an observer nothing is told, and the next backward has none.
  recorder.calls.clear();
  net(x);
  net.backward(dy);
  CHECK(recorder.calls.empty());
}

}  // namespace graph_test

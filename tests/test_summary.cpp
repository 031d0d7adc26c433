// nn::summary: torchinfo's table for Sequential models and a model of the user's own.
#include <ember/ember.hpp>

#include <catch2/catch.hpp>

#include <sstream>
#include <string>

using namespace ember;

namespace {

std::string text_of(const nn::Summary& s) {
  std::ostringstream out;
  out << s;
  return out.str();
}

// The CNN seed notebook's model, as a model of the user's own that lists its layers.
struct Net : nn::Module<float> {
  nn::Conv2d<> conv1{1, 16, 3};
  nn::ReLU<> relu;
  nn::MaxPool2d<> pool{2};
  nn::Flatten<> flatten;
  nn::Linear<> fc{16 * 13 * 13, 10};
  const Tensor<>& forward(const Tensor<>& x) override {
    return fc.forward(flatten.forward(pool.forward(relu.forward(conv1.forward(x)))));
  }
  const Tensor<>& backward(const Tensor<>& dy) override {
    return conv1.backward(relu.backward(pool.backward(flatten.backward(fc.backward(dy)))));
  }
  void visit_state(nn::StateVisitor<float>& v, const nn::Name* prefix = nullptr) override {
    nn::visit_state_of(v, prefix, "conv1", conv1, "fc", fc);
  }
  void visit_children(nn::ChildVisitor<float>& v) override {
    nn::children_of(v, "conv1", conv1, "relu", relu, "pool", pool, "flatten", flatten, "fc", fc);
  }
  void train(bool on = true) override {
    nn::Module<float>::train(on);
    for (nn::Module<float>* l : std::initializer_list<nn::Module<float>*>{&conv1, &relu, &pool, &flatten, &fc}) l->train(on);
  }
  void print(std::ostream& out, int = 0) const override { out << "Net(...)"; }
};

}  // namespace

// Expected numbers, by hand with torchinfo 1.8's formulas (torchinfo/layer_info.py calculate_macs,
// model_statistics.py), for an input (1, 1, 28, 28):
//   Conv2d(1, 16, 3): output (1, 16, 26, 26); params 16*1*3*3 + 16 = 160;
//     mult-adds (weight + bias) * N * H_out * W_out = 160 * 1 * 26 * 26 = 108,160
//   Linear(2704, 10): output (1, 10); params 2704*10 + 10 = 27,050; mult-adds N * 27,050 = 27,050
//   total params 27,210; total mult-adds 135,210 -> "(M): 0.14"
//   input 784 floats = 3,136 B -> 0.00 MB; forward/backward: the outputs of the layers with
//   parameters, twice: 2 * 4 * (10,816 + 10) = 86,608 B -> 0.09 MB; params 4 * 27,210 = 108,840 B
//   -> 0.11 MB; total 198,584 B -> 0.20 MB.
TEST_CASE("summary of the seed CNN: 27,210 params, torchinfo's mult-adds and memory", "[summary]") {
  nn::Sequential model{nn::Conv2d{1, 16, 3}, nn::ReLU{}, nn::MaxPool2d{2}, nn::Flatten{}, nn::Linear{2704, 10}};
  const auto s = nn::summary(model, {1, 1, 28, 28});
  CHECK(s.total_params == 27210);
  CHECK(s.trainable_params == 27210);
  CHECK(s.mult_adds == 135210);
  CHECK(s.input_bytes == 3136);
  CHECK(s.forward_backward_bytes == 86608);
  CHECK(s.param_bytes == 108840);
  REQUIRE(s.rows.size() == 6);
  CHECK(s.rows[1].output == Shape{1, 16, 26, 26});
  CHECK(s.rows[1].mult_adds == 108160);
  CHECK(s.rows[3].output == Shape{1, 16, 13, 13});
  CHECK(s.rows[4].output == Shape{1, 2704});
  CHECK(s.rows[5].mult_adds == 27050);
  const std::string text = text_of(s);
  INFO(text);
  CHECK(text.find("Layer (type:depth-idx)                  Output Shape             Param #\n") != std::string::npos);
  CHECK(text.find("Sequential                              [1, 10]                  --\n") != std::string::npos);
  CHECK(text.find("├─Conv2d: 1-1                           [1, 16, 26, 26]          160\n") != std::string::npos);
  CHECK(text.find("├─ReLU: 1-2                             [1, 16, 26, 26]          --\n") != std::string::npos);
  CHECK(text.find("├─MaxPool2d: 1-3                        [1, 16, 13, 13]          --\n") != std::string::npos);
  CHECK(text.find("├─Flatten: 1-4                          [1, 2704]                --\n") != std::string::npos);
  CHECK(text.find("├─Linear: 1-5                           [1, 10]                  27,050\n") != std::string::npos);
  CHECK(text.find("Total params: 27,210\nTrainable params: 27,210\nNon-trainable params: 0\nTotal mult-adds (M): 0.14\n") !=
        std::string::npos);
  CHECK(text.find("Input size (MB): 0.00\nForward/backward pass size (MB): 0.09\nParams size (MB): 0.11\n"
                  "Estimated Total Size (MB): 0.20\n") != std::string::npos);
  CHECK(model.is_training());  // eval for the summary, then back
}

TEST_CASE("summary of a model of the user's own lists its members in order", "[summary]") {
  Net net;
  net.eval();
  const auto s = nn::summary(net, {2, 1, 28, 28});
  CHECK(!net.is_training());
  CHECK(s.total_params == 27210);
  CHECK(s.mult_adds == 2 * 135210);  // torchinfo counts the whole batch
  const std::string text = text_of(s);
  INFO(text);
  CHECK(text.find("Net                                     [2, 10]                  --\n") != std::string::npos);
  CHECK(text.find("├─Conv2d: 1-1                           [2, 16, 26, 26]          160\n") != std::string::npos);
  CHECK(text.find("├─Linear: 1-5                           [2, 10]                  27,050\n") != std::string::npos);
}

TEST_CASE("summary of a forward-only model follows the calls its forward recorded", "[summary][graph]") {
  // The seed CNN with its members listed once (EMBER_MODULE): the functional ops between them are
  // not rows (torchinfo shows modules), and the totals are the Sequential's above.
  namespace F = ember::nn::functional;
  struct Seed : nn::Module<float> {
    nn::Conv2d<> conv1{1, 16, 3};
    nn::Linear<> fc{16 * 13 * 13, 10};
    EMBER_MODULE(Seed, conv1, fc)
    const Tensor<>& forward(const Tensor<>& x) override { return fc(F::flatten(F::max_pool2d(F::relu(conv1(x)), 2))); }
  } net;
  const auto s = nn::summary(net, {2, 1, 28, 28});
  CHECK(s.total_params == 27210);
  CHECK(s.mult_adds == 2 * 135210);
  CHECK(s.forward_backward_bytes == 2 * 86608);
  const std::string text = text_of(s);
  INFO(text);
  CHECK(text.find("Seed                                    [2, 10]                  --\n") != std::string::npos);
  CHECK(text.find("├─Conv2d: 1-1                           [2, 16, 26, 26]          160\n") != std::string::npos);
  CHECK(text.find("├─Linear: 1-2                           [2, 10]                  27,050\n") != std::string::npos);
  CHECK(net.is_training());
}

TEST_CASE("summary indents nested Sequentials and counts their layers once", "[summary]") {
  nn::Sequential inner{nn::Linear{8, 4}, nn::ReLU{}};
  nn::Sequential<float> model;
  model.push_back(nn::Flatten{});
  model.push_back(std::move(inner));
  model.push_back(nn::Linear{4, 2});
  const auto s = nn::summary(model, {3, 2, 4});
  CHECK(s.total_params == (8 * 4 + 4) + (4 * 2 + 2));
  CHECK(s.mult_adds == 3 * 36 + 3 * 10);  // torchinfo: N * params for each Linear
  const std::string text = text_of(s);
  INFO(text);
  CHECK(text.find("├─Sequential: 1-2                       [3, 4]                   --\n") != std::string::npos);
  CHECK(text.find("│    └─Linear: 2-1                      [3, 4]                   36\n") != std::string::npos);
  CHECK(text.find("│    └─ReLU: 2-2                        [3, 4]                   --\n") != std::string::npos);
  CHECK(text.find("├─Linear: 1-3                           [3, 2]                   10\n") != std::string::npos);
}

namespace {
// A model whose children are listed out of the order its forward runs them: their chain fails.
struct Backwards : nn::Module<float> {
  nn::Linear<> fc1{4, 3}, fc2{3, 2};
  const Tensor<>& forward(const Tensor<>& x) override { return fc2.forward(fc1.forward(x)); }
  const Tensor<>& backward(const Tensor<>& dy) override { return fc1.backward(fc2.backward(dy)); }
  void visit_state(nn::StateVisitor<float>& v, const nn::Name* prefix = nullptr) override {
    nn::visit_state_of(v, prefix, "fc1", fc1, "fc2", fc2);
  }
  void visit_children(nn::ChildVisitor<float>& v) override { nn::children_of(v, "fc2", fc2, "fc1", fc1); }
  void print(std::ostream& out, int = 0) const override { out << "Backwards()"; }
};
}  // namespace

TEST_CASE("summary shows -- for shapes it cannot work out, and refuses an input the model cannot take", "[summary]") {
  Backwards model;
  const auto s = nn::summary(model, {1, 4});
  CHECK(s.rows[0].output == Shape{1, 2});  // the model's own forward
  CHECK_FALSE(s.rows[1].shape_known);      // fc2 on (1, 4): refused
  CHECK_FALSE(s.rows[2].shape_known);      // and so everything after it
  CHECK(s.total_params == 15 + 8);
  CHECK(text_of(s).find("├─Linear: 1-1                           --                       8\n") != std::string::npos);

  nn::Sequential mlp{nn::Linear{4, 3}};
  CHECK_THROWS_WITH(nn::summary(mlp, {1, 5}), Catch::Contains("nn::summary: a forward of an input of shape (1, 5) failed"));
  CHECK(mlp.is_training());
}

// No silent wrong gradient: a layer object used twice in one forward (PyTorch's `self.relu`
// idiom), and an input changed between forward and backward.
#include <ember/ember.hpp>

#include <catch2/catch.hpp>

#include "helpers.hpp"

using namespace ember;

namespace {

// fc1 -> relu -> fc2 -> relu -> fc3, one ReLU object used twice, as `self.relu` in PyTorch.
struct SharedRelu {
  nn::Linear<double> fc1, fc2, fc3;
  nn::ReLU<double> relu;
  SharedRelu(index_t in, index_t h1, index_t h2) : fc1(in, h1), fc2(h1, h2), fc3(h2, 3) {}
  const Tensor<double>& forward(const Tensor<double>& x) {
    return fc3.forward(relu.forward(fc2.forward(relu.forward(fc1.forward(x)))));
  }
  void backward(const Tensor<double>& dy) { fc1.backward(relu.backward(fc2.backward(relu.backward(fc3.backward(dy))))); }
};

// The same network with two ReLU objects.
struct TwoRelus {
  nn::Linear<double> fc1, fc2, fc3;
  nn::ReLU<double> relu1, relu2;
  TwoRelus(index_t in, index_t h1, index_t h2) : fc1(in, h1), fc2(h1, h2), fc3(h2, 3) {}
  const Tensor<double>& forward(const Tensor<double>& x) {
    return fc3.forward(relu2.forward(fc2.forward(relu1.forward(fc1.forward(x)))));
  }
  void backward(const Tensor<double>& dy) {
    fc1.backward(relu1.backward(fc2.backward(relu2.backward(fc3.backward(dy)))));
  }
};

void check_shared_relu(index_t h1, index_t h2) {
  manual_seed(5);
  SharedRelu shared(6, h1, h2);
  manual_seed(5);
  TwoRelus separate(6, h1, h2);
  const auto x = test::random_tensor<double>({4, 6}, 1);
  const auto dy = test::random_tensor<double>({4, 3}, 2);
  const Tensor<double> y1 = shared.forward(x);
  const Tensor<double> y2 = separate.forward(x);
  CHECK((y1.array() == y2.array()).all());
  shared.backward(dy);
  separate.backward(dy);
  CHECK((shared.fc1.weight().grad.array() == separate.fc1.weight().grad.array()).all());
  CHECK((shared.fc2.weight().grad.array() == separate.fc2.weight().grad.array()).all());
  CHECK((shared.fc3.weight().grad.array() == separate.fc3.weight().grad.array()).all());
  CHECK((shared.fc2.bias().grad.array() == separate.fc2.bias().grad.array()).all());
}

}  // namespace

TEST_CASE("one ReLU object used twice in one forward gives the gradients of two", "[reuse]") {
  SECTION("equal widths (the case that trained silently wrong)") { check_shared_relu(8, 8); }
  SECTION("unequal widths (the case that blamed a Linear's dy)") { check_shared_relu(8, 5); }
}

TEST_CASE("an input changed between forward and backward is an Error naming the layer", "[reuse]") {
  nn::Sequential model{nn::Flatten{}, nn::Linear{12, 4}, nn::ReLU{}, nn::Linear{4, 2}};
  Tensor<float> x({3, 1, 3, 4}), dy({3, 2});
  x.fill(0.5f);
  model.forward(x);
  x(0, 0, 0, 0) = 2;  // written through a non-const reference
  CHECK_THROWS_WITH(model.backward(dy), Catch::Contains("Sequential layer 1 backward") &&
                                            Catch::Contains("Linear(in_features=12, out_features=4, bias=True)") &&
                                            Catch::Contains("modified before backward()"));
  // Unchanged (read through a const reference), the same backward works.
  model.forward(x);
  const Tensor<float>& cx = x;
  CHECK(cx(0, 0, 0, 0) == 2);
  CHECK_NOTHROW(model.backward(dy));
}

TEST_CASE("a data loader moving to its next batch before backward is refused", "[reuse]") {
  data::ImageDataset ds;
  ds.name = "tiny";
  ds.height = ds.width = 2;
  ds.pixels.assign(4 * 8, 7);
  ds.labels.assign(8, 1);
  data::DataLoader loader(ds, {.batch_size = 4});
  nn::Sequential model{nn::Flatten{}, nn::Linear{4, 2}};
  auto it = loader.begin();
  const auto& batch = *it;
  model.forward(batch.images);
  ++it;
  *it;  // loads batch 1 into the same tensors
  CHECK_THROWS_WITH(model.backward(Tensor<float>({4, 2})), Catch::Contains("modified before backward()"));
}

TEST_CASE("views: writing into a view writes its memory; a const view is read-only; resizing never detaches",
          "[tensor]") {
  Tensor<float> t({2, 6});
  auto v = t.reshape({3, 4});
  v(2, 3) = 5;
  CHECK(t(1, 5) == 5);
  CHECK(v.version_id() == t.version_id());
  const std::uint64_t before = t.version();
  v.data()[0] = 1;  // a write through the view counts for the viewed tensor
  CHECK(t.version() > before);
  const Tensor<float>& ct = t;
  auto cv = ct.reshape({12});
  CHECK(cv.is_read_only());
  CHECK_THROWS_WITH(cv.data(), Catch::Contains("read-only view"));
  CHECK_THROWS_WITH(v.resize({5}), Catch::Contains("never detaches"));
  v.resize({4, 3});  // same element count: still a view of t
  CHECK(v.data() == t.data());
  Tensor<float> other({12});
  other.fill(3);
  v = other.reshape({4, 3});  // move: v now views `other`
  CHECK(v.data() == other.data());
  Tensor<float> w = t.reshape({12});
  const Tensor<float> source({12});
  w = source;  // copy-assign into a view: writes t's memory
  CHECK(t(1, 5) == 0);
  CHECK(w.data() == t.data());
  const Tensor<float> copy = v;  // a copy owns its memory
  CHECK(copy.owns_data());
}

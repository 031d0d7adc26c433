// Every mistake a user can make through ember's public surface, with the part of the message it
// must produce: bad files, wrong shapes between layers, labels out of range, bad options for the
// layers, the optimizers and the loader, bad Normalize values. Each row runs the mistake and
// checks that an ember::Error (nothing else) names it. A nan loss during training is the
// examples' business: tests/example_nan_loss.sh.
#include <ember/ember.hpp>
#include <ember/io.hpp>

#include <catch2/catch.hpp>

#include <deque>
#include <functional>
#include <string>
#include <vector>

#include "files.hpp"

using namespace ember;
using test::Bytes;

namespace {

struct Mistake {
  std::string what;              // the mistake, in a user's words
  std::function<void()> make;    // makes it
  std::vector<std::string> says;  // fragments the message must contain
};

data::ImageDataset tiny_dataset(index_t n = 4) {
  data::ImageDataset d;
  d.name = "tiny";
  d.height = d.width = 2;
  d.pixels.assign(static_cast<std::size_t>(4 * n), 7);
  d.labels.assign(static_cast<std::size_t>(n), 1);
  return d;
}

Tensor<std::int64_t> labels(std::vector<std::int64_t> v) {
  Tensor<std::int64_t> t({static_cast<index_t>(v.size())});
  for (std::size_t i = 0; i < v.size(); ++i) t.data()[i] = v[i];
  return t;
}

#if defined(EMBER_HAVE_ZLIB)
Bytes gzip_bytes(const Bytes& raw, const test::TempDir& dir) {
  test::write_gzip(dir.file("tmp.gz"), raw);
  const std::string s = test::read_bytes(dir.file("tmp.gz"));
  return Bytes(s.begin(), s.end());
}
#endif

}  // namespace

TEST_CASE("every mistake through the public surface throws an ember::Error that names it", "[bad_inputs]") {
  test::TempDir dir;
  const auto file = [&](const std::string& name, const Bytes& bytes) {
    test::write_file(dir.file(name), bytes);
    return dir.file(name);
  };
  const auto idx = [&](const Bytes& bytes) { data::read_idx(file("bad-idx", bytes)); };
  const auto mnist_dir = [&](std::uint32_t n_images, std::uint32_t n_labels, int label) {
    const std::string folder = dir.file("mnist" + std::to_string(n_images) + std::to_string(n_labels) + std::to_string(label));
    std::filesystem::create_directories(folder);
    test::write_file(folder + "/train-images-idx3-ubyte", test::idx_u8({n_images, 28, 28}));
    Bytes l = test::idx_header(0x08, {n_labels});
    l.resize(l.size() + n_labels, static_cast<unsigned char>(label));
    test::write_file(folder + "/train-labels-idx1-ubyte", l);
    return folder;
  };
  manual_seed(3);
  nn::Linear<float> fc(4, 3);
  auto mlp = nn::Sequential{nn::Flatten{}, nn::Linear{784, 10}};
  const std::string weights = dir.file("fc.safetensors");
  io::save(fc, weights);
  data::ImageDataset tiny = tiny_dataset();
  std::vector<nn::Parameter<float>*> params = fc.parameters();
  nn::CrossEntropyLoss loss;
  std::deque<Tensor<float>> inputs;  // layers take no temporaries: their backward may need the input
  const auto z = [&](const Shape& s) -> const Tensor<float>& { return inputs.emplace_back(s); };

  std::vector<Mistake> mistakes = {
      // Files: IDX and MNIST.
      {"an IDX file that does not exist", [&] { data::read_idx(dir.file("nope")); }, {"nope: no such file"}},
      {"a folder for an IDX file", [&] { data::read_idx(dir.str()); }, {"not a regular file"}},
      {"a file that is not IDX", [&] { idx({'P', 'K', 3, 4, 0, 0, 0, 0}); }, {"bad-idx: not an IDX file (magic number 0x504b0304"}},
      {"an IDX file cut short", [&] { idx(test::idx_header(0x08, {3, 5})); }, {"truncated: the header says 3 x 5 u8 elements"}},
      {"an IDX file with bytes after its data", [&] { idx([] { auto b = test::idx_u8({2}); b.push_back(0); return b; }()); },
       {"1 bytes more"}},
      {"IDX dims whose product overflows", [&] { idx(test::idx_header(0x08, {0xffffffffu, 0xffffffffu, 0})); },
       {"more than 2^63 bytes"}},
      {"a folder without MNIST", [&] { data::Mnist::load(dir.str(), data::Split::train); },
       {"MNIST: no train-images file in", "MNIST_DIR"}},
      {"MNIST labels out of 0-9", [&] { data::Mnist::load(mnist_dir(2, 2, 10), data::Split::train); },
       {"label 10 at position 0 is not a digit class 0-9"}},
      {"MNIST images and labels of different counts", [&] { data::Mnist::load(mnist_dir(2, 3, 1), data::Split::train); },
       {"holds 2 images but", "holds 3 labels"}},
      // Files: weights and checkpoints.
      {"weights that do not exist", [&] { io::load(fc, dir.file("none.safetensors")); }, {"cannot read", "none.safetensors"}},
      {"a file that is not safetensors", [&] { io::load(fc, file("x.safetensors", {'a', 'b', 'c'})); },
       {"3 bytes is too short for a safetensors file"}},
      {"weights of another shape",
       [&] {
         nn::Linear<float> other(3, 4);
         io::load(other, weights);
       },
       {"\"weight\" has shape (3, 4) in the file, the model's is (4, 3)"}},
      {"weights for a checkpoint",
       [&] {
         optim::SGD<float> sgd(params);
         data::DataLoader<float> loader(tiny);
         io::load_checkpoint(fc, sgd, loader, weights);
       },
       {"not a checkpoint", "io::load"}},
      {"a save into a missing folder", [&] { io::save(fc, dir.file("missing/fc.safetensors")); },
       {"cannot create a temporary file", "No such file or directory"}},
      {"a save over a read-only file",
       [&] {
         test::write_file(dir.file("ro"), {1});
         std::filesystem::permissions(dir.file("ro"), std::filesystem::perms::owner_read);
         io::save(fc, dir.file("ro"));
       },
       {"cannot replace", "Permission denied"}},
      // Shapes.
      {"a Linear fed the wrong number of features", [&] { fc.forward(z({2, 5})); },
       {"Linear(in_features=4, out_features=3, bias=True): expected input of shape (N, 4), got (2, 5)"}},
      {"images into a Linear", [&] { fc.forward(z({2, 1, 2, 2})); }, {"use nn::Flatten before it"}},
      {"layers that do not fit together", [&] { mlp.forward(z({2, 1, 28, 27})); },
       {"Sequential layer 1 forward", "expected input of shape (N, 784), got (2, 756)", "output of layer 0, Flatten"}},
      {"a Conv2d fed the wrong channels",
       [&] {
         nn::Conv2d<float> conv(3, 4, 3);
         conv.forward(z({1, 1, 8, 8}));
       },
       {"expected input of shape (N, 3, H, W), got (1, 1, 8, 8)"}},
      {"a Conv2d kernel larger than the image",
       [&] {
         nn::Conv2d<float> conv(1, 4, 5);
         conv.forward(z({1, 1, 3, 3}));
       },
       {"does not fit the padded input"}},
      {"a MaxPool2d fed a flat input", [&] { nn::MaxPool2d<float>(2).forward(z({2, 8})); },
       {"expected input of shape (N, C, H, W), got (2, 8)"}},
      {"a MaxPool2d window larger than the image", [&] { nn::MaxPool2d<float>(4).forward(z({1, 1, 3, 3})); },
       {"does not fit the input"}},
      {"a BatchNorm2d fed the wrong channels", [&] { nn::BatchNorm2d<float>(4).forward(z({2, 3, 2, 2})); },
       {"expected input of shape (N, 4, H, W), got (2, 3, 2, 2)"}},
      {"a batch of one into BatchNorm1d in training", [&] { nn::BatchNorm1d<float>(4).forward(z({1, 4})); },
       {"expected more than 1 value per channel when training"}},
      {"a gradient of the wrong shape",
       [&] {
         fc.forward(z({2, 4}));
         fc.backward(z({2, 4}));
       },
       {"expected dy of shape (2, 3) (the output's), got (2, 4)"}},
      {"backward without forward", [&] { nn::Linear<float>(2, 2).backward(z({1, 2})); },
       {"backward() needs a forward() in train mode first"}},
      {"Flatten of a 1-d input", [&] { nn::Flatten<float>().forward(z({5})); }, {"cannot flatten an input of shape (5,)"}},
      {"a negative tensor size", [&] { Tensor<float> t({2, -1}); }, {"dimensions must be >= 0, got -1"}},
      {"a reshape to another size", [&] { z({2, 3}).reshape({4, 2}); }, {"cannot view shape (2, 3) as (4, 2)"}},
      // Labels.
      {"labels of another batch size", [&] { loss.forward(z({2, 10}), labels({1, 2, 3})); },
       {"expected labels of shape (2,) to match logits (2, 10), got (3,)"}},
      {"a label past the classes", [&] { loss.forward(z({2, 10}), labels({1, 10})); },
       {"label 10 at position 1 is out of range for 10 classes"}},
      {"a negative label", [&] { loss.forward(z({1, 10}), labels({-1})); }, {"label -1 at position 0 is out of range"}},
      {"the loss's backward first", [&] { nn::CrossEntropyLoss().backward(); }, {"backward() needs a forward() first"}},
      // Layer options.
      {"a Linear without features", [&] { nn::Linear<float>(0, 3); }, {"Linear(0, 3): in_features and out_features must be positive"}},
      {"a Conv2d stride of 0", [&] { nn::Conv2d<float>(1, 1, 3, {.stride = 0}); }, {"stride must be positive"}},
      {"a negative Conv2d padding", [&] { nn::Conv2d<float>(1, 1, 3, {.padding = -1}); }, {"padding must be >= 0"}},
      {"a MaxPool2d kernel of 0", [&] { nn::MaxPool2d<float>(0); }, {"kernel size and stride must be positive"}},
      {"a MaxPool2d padding over half the kernel", [&] { nn::MaxPool2d<float>(2, 2, 2); },
       {"padding must be between 0 and half the kernel size"}},
      {"a dropout probability above 1", [&] { nn::Dropout<float>(1.5); }, {"dropout probability has to be between 0 and 1, but got 1.5"}},
      {"a nan dropout probability", [&] { nn::Dropout<float>(std::nan("")); }, {"between 0 and 1, but got nan"}},
      {"a BatchNorm eps of 0", [&] { nn::BatchNorm2d<float>(4, {.eps = 0}); }, {"eps must be positive, got 0"}},
      {"a BatchNorm momentum of 2", [&] { nn::BatchNorm2d<float>(4, {.momentum = 2.0}); }, {"momentum must be in [0, 1], got 2"}},
      {"a BatchNorm without features", [&] { nn::BatchNorm1d<float>(0); }, {"num_features must be positive"}},
      {"an empty Sequential", [&] { nn::Sequential<float>().forward(z({1, 2})); }, {"forward() of an empty Sequential"}},
      {"Sequential::at past the end", [&] { mlp.at<nn::Linear<float>>(5); }, {"index 5 is out of range (2 layers)"}},
      {"Sequential::at of the wrong type", [&] { mlp.at<nn::ReLU<float>>(1); }, {"layer 1 is Linear", "not the type asked for"}},
      // Optimizer options.
      {"an optimizer of no parameters", [&] { optim::Adam<float>(std::vector<nn::Parameter<float>*>{}); },
       {"Adam: got an empty parameter list"}},
      {"a negative Adam learning rate", [&] { optim::Adam<float>(params, {.lr = -1}); }, {"Adam: invalid learning rate -1"}},
      {"an Adam beta of 1", [&] { optim::Adam<float>(params, {.betas = {1.0, 0.999}}); }, {"invalid beta1 1 (must be finite and in [0, 1))"}},
      {"a nan Adam eps", [&] { optim::Adam<float>(params, {.eps = std::nan("")}); }, {"invalid eps nan"}},
      {"a negative Adam weight decay", [&] { optim::Adam<float>(params, {.weight_decay = -1}); }, {"invalid weight_decay -1"}},
      {"an infinite SGD learning rate", [&] { optim::SGD<float>(params, {.lr = INFINITY}); }, {"SGD: invalid learning rate inf"}},
      {"a negative SGD momentum", [&] { optim::SGD<float>(params, {.momentum = -0.5}); }, {"invalid momentum -0.5"}},
      {"a nan SGD dampening", [&] { optim::SGD<float>(params, {.momentum = 0.9, .dampening = std::nan("")}); },
       {"invalid dampening nan"}},
      {"nesterov without momentum", [&] { optim::SGD<float>(params, {.nesterov = true}); },
       {"nesterov momentum requires a momentum > 0 and zero dampening"}},
      {"set_lr to infinity",
       [&] {
         optim::SGD<float> sgd(params);
         sgd.set_lr(INFINITY);
       },
       {"SGD: set_lr: invalid learning rate inf"}},
      {"a negative Adam step count",
       [&] {
         optim::Adam<float> adam(params);
         adam.set_step_count(-1);
       },
       {"Adam: set_step_count: invalid step count -1"}},
      // Loader options and datasets.
      {"a batch size of 0", [&] { data::DataLoader<float>(tiny, {.batch_size = 0}); }, {"batch_size must be positive, got 0"}},
      {"an empty dataset", [&] { data::DataLoader<float>(tiny_dataset(0)); }, {"the dataset 'tiny' is empty"}},
      {"a dataset with fewer pixels than its labels need",
       [&] {
         auto d = tiny_dataset();
         d.pixels.pop_back();
         data::DataLoader<float> loader(d);
       },
       {"the dataset 'tiny' has 4 labels and 15 pixels", "1 x 2 x 2"}},
      {"a dataset with images of size 0",
       [&] {
         auto d = tiny_dataset();
         d.height = 0;
         data::DataLoader<float> loader(d);
       },
       {"each size must be positive"}},
      {"an order that is not a permutation",
       [&] {
         data::DataLoader<float> loader(tiny);
         loader.set_order({0, 1, 1, 3});
       },
       {"set_order for the dataset 'tiny'", "got 1 twice"}},
      {"a generator state that is not one", [&] { Generator().set_state("seed=5"); }, {"not an mt19937_64 state: \"seed=5\""}},
      // Normalize.
      {"Normalize with two means and one std",
       [&] {
         auto d = tiny_dataset();
         d.normalize = {{0.1, 0.2}, {0.3}};
         data::DataLoader<float> loader(d);
       },
       {"Normalize with 2 mean(s) and 1 std(s); give one of each, or one per channel (1)"}},
      {"Normalize with std 0",
       [&] {
         auto d = tiny_dataset();
         d.normalize = {{0.1}, {0}};
         data::DataLoader<float> loader(d);
       },
       {"Normalize std[0] = 0 (it divides by the std)"}},
      {"Normalize with a nan std",
       [&] {
         auto d = tiny_dataset();
         d.normalize = {{0.1}, {std::nan("")}};
         data::DataLoader<float> loader(d);
       },
       {"std[0] = nan; both must be finite"}},
      {"Normalize with an infinite mean",
       [&] {
         auto d = tiny_dataset();
         d.normalize = {{INFINITY}, {0.3}};
         data::DataLoader<float> loader(d);
       },
       {"mean[0] = inf"}},
  };

#if defined(EMBER_HAVE_ZLIB)
  mistakes.insert(mistakes.end(), {
      {"a gzip bomb behind a small IDX header",
       [&] {
         Bytes raw = test::idx_header(0x08, {10});
         raw.resize(raw.size() + (1u << 20), 0);
         idx(gzip_bytes(raw, dir));
       },
       {"inflates to more than the 18 bytes its IDX header implies"}},
      {"data after the end of a gzip file",
       [&] {
         Bytes b = gzip_bytes(test::idx_u8({2}), dir);
         b.push_back('!');
         idx(b);
       },
       {"1 bytes after the end of the gzip data"}},
      {"a cut gzip file", [&] { idx({0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3}); }, {"truncated gzip data"}}
  });
#endif

  for (const auto& m : mistakes) {
    INFO("mistake: " << m.what);
    try {
      m.make();
      FAIL_CHECK("no error");
    } catch (const Error& e) {
      const std::string message = e.what();
      INFO("message: " << message);
      for (const auto& fragment : m.says) CHECK(message.find(fragment) != std::string::npos);
    } catch (const std::exception& e) {
      FAIL_CHECK("not an ember::Error: " << e.what());
    }
  }
}

#include <ember/ember.hpp>
#include <ember/io.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "files.hpp"
#include "helpers.hpp"

using namespace ember;
using test::read_bytes;
using test::write_bytes;

namespace {

// The model of tests/golden/safetensors.txt and mlp_small.safetensors (torch 1.13).
template <class T = float>
auto small_mlp() {
  return nn::Sequential{nn::Flatten<T>{}, nn::Linear<T>{4, 3}, nn::ReLU<T>{}, nn::Linear<T>{3, 2}};
}

// A safetensors file from a header text and a data buffer.
std::string safetensors(const std::string& header, const std::string& data) {
  std::string out(8, '\0');
  const std::uint64_t n = header.size();
  std::memcpy(out.data(), &n, 8);
  return out + header + data;
}

template <class Model>
std::vector<std::vector<float>> values_of(Model& model) {
  std::vector<std::vector<float>> out;
  for (auto& [name, p] : model.named_parameters()) out.emplace_back(p.value.data(), p.value.data() + p.value.numel());
  return out;
}

std::vector<std::string> files_in(const std::string& folder) {
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(folder)) names.push_back(e.path().filename().string());
  return names;
}

}  // namespace

TEST_CASE("io::load reads a state_dict PyTorch wrote, and the model then computes PyTorch's outputs", "[io]") {
  const golden::File g("safetensors.txt");  // computed with torch 1.13, see make_golden.py
  manual_seed(123);                        // weights unlike torch's until loaded
  auto model = small_mlp();
  io::load(model, EMBER_GOLDEN_DIR "/mlp_small.safetensors");
  for (auto& [name, p] : model.named_parameters()) {
    INFO(name);
    CHECK(test::mismatch(p.value, g[name], {.rtol = 0, .atol = 0}).empty());  // bit for bit
  }
  model.eval();
  const auto x = test::to_tensor(g["x"]);
  const auto& y = model.forward(x);
  CHECK(test::mismatch(y, g["y"]).empty());
}

TEST_CASE("io::save then io::load gives back every parameter exactly, also across float and double", "[io]") {
  test::TempDir dir;
  const auto path = dir.file("mlp.safetensors");
  manual_seed(1);
  auto saved = small_mlp();
  io::save(saved, path);

  // The layout: header length, JSON starting with '{', data 8-byte aligned and exactly sized.
  const auto bytes = read_bytes(path);
  std::uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  CHECK(n % 8 == 0);
  CHECK(bytes[8] == '{');
  CHECK(bytes.size() == 8 + n + (4 * 3 + 3 + 3 * 2 + 2) * sizeof(float));

  manual_seed(2);
  auto loaded = small_mlp();
  REQUIRE(values_of(loaded) != values_of(saved));
  io::load(loaded, path);
  CHECK(values_of(loaded) == values_of(saved));

  // F32 into a double model and back: float -> double -> float is exact.
  auto wide = small_mlp<double>();
  io::load(wide, path);
  const auto wide_path = dir.file("wide.safetensors");
  io::save(wide, wide_path);
  CHECK(read_bytes(wide_path).size() > bytes.size());  // F64 on disk
  manual_seed(3);
  auto narrow = small_mlp();
  io::load(narrow, wide_path);
  CHECK(values_of(narrow) == values_of(saved));

  // A struct of the user's own, through the parameter list.
  manual_seed(4);
  nn::Linear<float> fc1(4, 3), fc2(3, 2);
  io::load(nn::named_parameters_of("1", fc1, "3", fc2), path);
  CHECK(std::equal(fc1.weight().value.data(), fc1.weight().value.data() + 12, values_of(saved)[0].begin()));
}

TEST_CASE("io::save overwrites the previous file atomically and a failed save keeps it", "[io]") {
  test::TempDir dir;
  const auto path = dir.file("model.safetensors");
  manual_seed(1);
  auto first = small_mlp();
  io::save(first, path);
  const auto good = read_bytes(path);
  REQUIRE(files_in(dir.str()) == std::vector<std::string>{"model.safetensors"});

  manual_seed(2);
  auto second = small_mlp();
  io::save(second, path);  // replaces it
  CHECK(read_bytes(path) != good);
  io::save(first, path);
  CHECK(read_bytes(path) == good);

  SECTION("the disk fills up in the middle of the write") {
    // RLIMIT_FSIZE makes write() fail with EFBIG past 64 bytes, as a full disk would (and works
    // for root, which file permissions do not stop).
    auto old_handler = std::signal(SIGXFSZ, SIG_IGN);
    rlimit old_limit{};
    getrlimit(RLIMIT_FSIZE, &old_limit);
    rlimit small = old_limit;
    small.rlim_cur = 64;
    setrlimit(RLIMIT_FSIZE, &small);
    CHECK_THROWS_WITH(io::save(second, path), Catch::Contains("writing") && Catch::Contains("model.safetensors") &&
                                                  Catch::Contains("previous file") && Catch::Contains("unchanged"));
    setrlimit(RLIMIT_FSIZE, &old_limit);
    std::signal(SIGXFSZ, old_handler);
  }
  SECTION("the target is a folder") {
    const auto folder = dir.file("sub");
    std::filesystem::create_directories(std::filesystem::path(folder) / "x");
    CHECK_THROWS_WITH(io::save(second, folder), Catch::Contains("replacing") && Catch::Contains("sub\" failed: Is a directory"));
    std::filesystem::remove_all(folder);
  }
  SECTION("the folder does not exist") {
    CHECK_THROWS_WITH(io::save(second, dir.file("missing/model.safetensors")),
                      Catch::Contains("cannot create a temporary file") && Catch::Contains("missing") &&
                          Catch::Contains("No such file or directory"));
  }
  CHECK(read_bytes(path) == good);
  CHECK(files_in(dir.str()) == std::vector<std::string>{"model.safetensors"});  // no temporary left behind
}

TEST_CASE("io::load names every problem of a bad file and leaves the model unchanged", "[io]") {
  test::TempDir dir;
  const auto path = dir.file("bad.safetensors");
  manual_seed(5);
  auto model = small_mlp();
  const auto before = values_of(model);
  const auto fails_with = [&](const std::string& bytes, const std::vector<std::string>& pieces) {
    write_bytes(path, bytes);
    try {
      io::load(model, path);
      FAIL("no error for " << bytes.substr(8));
    } catch (const Error& e) {
      const std::string what = e.what();
      INFO(what);
      CHECK(what.find("bad.safetensors") != std::string::npos);
      for (const auto& piece : pieces) CHECK(what.find(piece) != std::string::npos);
    }
    CHECK(values_of(model) == before);
  };
  const std::string f32((12 + 3 + 6 + 2) * 4, '\0');  // the model's 23 floats, all zero
  const std::string good_header =
      R"({"1.weight":{"dtype":"F32","shape":[3,4],"data_offsets":[0,48]},)"
      R"("1.bias":{"dtype":"F32","shape":[3],"data_offsets":[48,60]},)"
      R"("3.weight":{"dtype":"F32","shape":[2,3],"data_offsets":[60,84]},)"
      R"("3.bias":{"dtype":"F32","shape":[2],"data_offsets":[84,92]}})";
  REQUIRE(f32.size() == 92);
  {  // the control: this file loads (zeros everywhere)
    write_bytes(path, safetensors(good_header, f32));
    auto other = small_mlp();
    io::load(other, path);
    CHECK(other.named_parameters()[0].param.value(2, 3) == 0.0f);
  }

  CHECK_THROWS_WITH(io::load(model, dir.file("nothing.safetensors")),
                    Catch::Contains("cannot read") && Catch::Contains("nothing.safetensors"));
  fails_with("abc", {"3 bytes", "too short"});
  fails_with(safetensors(good_header, f32).substr(0, 100), {"header length", "truncated"});
  fails_with(safetensors("{\"1.weight\": [", f32), {"not valid JSON"});
  fails_with(safetensors("[1, 2]", f32), {"does not start with '{'"});
  auto replace = [&](std::string from, std::string to) {
    std::string h = good_header;
    h.replace(h.find(from), from.size(), to);
    return h;
  };
  fails_with(safetensors(replace(R"("F32","shape":[3])", R"("BF16","shape":[3])"), f32),
             {"\"1.bias\"", "BF16", "not supported"});
  {  // one problem, not also a "hole" where the rejected tensor was
    write_bytes(path, safetensors(replace(R"("F32","shape":[3])", R"("BF16","shape":[3])"), f32));
    CHECK_THROWS_WITH(io::load(model, path), !Catch::Contains("problems") && !Catch::Contains("covers"));
  }
  // Hostile headers: nesting that would recurse per level when printed, numbers out of range,
  // shapes whose element count overflows 64 bits, metadata that is not strings.
  fails_with(safetensors(replace("[3,4]", std::string(100000, '[') + std::string(100000, ']')), f32),
             {"nests JSON deeper than 3 levels"});
  fails_with(safetensors(replace("[0,48]", "[0,1e999]"), f32), {"not valid JSON"});
  fails_with(safetensors(replace("[3,4]", "[4294967296,4294967296,3]"), f32),
             {"\"1.weight\"", "takes more than all of them"});
  fails_with(safetensors(replace("[3,4]", "[2199023255552,1]"), f32), {"\"1.weight\"", "not a list of sizes"});
  fails_with(safetensors(R"({"__metadata__":{"format":1},)" + good_header.substr(1), f32),
             {"__metadata__ \"format\" is not a string"});
  // Duplicate keys anywhere (nlohmann would keep the last), and a header not starting with '{'.
  fails_with(safetensors(replace(R"("3.bias")", R"("1.bias")"), f32), {"the key \"1.bias\" twice"});
  fails_with(safetensors(replace(R"("shape":[3])", R"("shape":[3],"shape":[3])"), f32), {"the key \"shape\" twice"});
  fails_with(safetensors(R"({"__metadata__":{"a":"1","a":"2"},)" + good_header.substr(1), f32), {"the key \"a\" twice"});
  fails_with(safetensors(" " + good_header, f32), {"does not start with '{'"});
  fails_with(safetensors(replace("[84,92]", "[84,920]"), f32), {"\"3.bias\"", "[84,920]", "outside the 92 bytes"});
  fails_with(safetensors(replace("[3,4],", "[3,-4],"), f32), {"\"1.weight\"", "[3,-4]", "not a list of sizes"});
  fails_with(safetensors(replace("[48,60]", "[48,64]"), f32), {"\"1.bias\"", "hold 16 bytes", "takes 12"});
  fails_with(safetensors(replace("[0,48]", "[4,52]"), f32 + std::string(4, '\0')), {"no tensor covers bytes 0-4"});
  fails_with(safetensors(good_header, f32 + std::string(8, '\0')), {"8 bytes after the last tensor"});
  fails_with(safetensors(replace("[48,60]", "[44,56]").replace(good_header.find("[60,84]"), 7, "[56,80]"), f32),
             {"tensors overlap at byte 44"});
  {  // a header length past the format's 100,000,000 bytes, in a (sparse) file long enough to hold it
    write_bytes(path, safetensors(good_header, f32));
    std::uint64_t n = 100'000'001;
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.write(reinterpret_cast<const char*>(&n), 8);
    f.close();
    std::filesystem::resize_file(path, 8 + n + 16);
    CHECK_THROWS_WITH(io::load(model, path), Catch::Contains("100000001 bytes, more than the format's limit"));
    std::filesystem::remove(path);
  }
  fails_with(safetensors(R"({"__metadata__":["a"],)" + good_header.substr(1), f32), {"__metadata__ is not a JSON object"});
  fails_with(safetensors(replace(R"("dtype":"F32","shape":[3],"data_offsets":[48,60])", R"("dtype":"F32")"), f32),
             {"\"1.bias\"", "expected {"});
  // Shapes and names: one problem, then all problems at once, like load_state_dict.
  fails_with(safetensors(replace("[3,4]", "[4,3]"), f32),
             {"\"1.weight\" has shape (4, 3) in the file, the model's is (3, 4)"});
  const std::string two = [&] {
    std::string h = replace(R"("3.bias")", R"("fc.bias")");
    h.replace(h.find("[3,4]"), 5, "[4,3]");
    return h;
  }();
  fails_with(safetensors(two, f32), {"3 problems", "\"1.weight\" has shape (4, 3) in the file, the model's is (3, 4)",
                                     "\"3.bias\" is missing (the model's (2,))",
                                     "\"fc.bias\" (2,) is not a parameter of the model"});
}

TEST_CASE("io saves and loads zero-element tensors", "[io]") {
  test::TempDir dir;
  nn::Parameter<float> empty{Tensor<float>({0, 3}), Tensor<float>({0, 3})};
  nn::Parameter<float> one{Tensor<float>({2}), Tensor<float>({2})};
  one.value(1) = 5;
  const nn::NamedParameters<float> params = {{"empty", empty}, {"one", one}};
  io::save(params, dir.file("z"));
  one.value(1) = 0;
  io::load(params, dir.file("z"));
  CHECK(one.value(1) == 5);
  CHECK(empty.value.shape() == Shape{0, 3});
}

TEST_CASE("io::save keeps a replaced file's permissions and gives a new one the umask's", "[io]") {
  test::TempDir dir;
  manual_seed(1);
  auto model = small_mlp();
  const auto path = dir.file("m.safetensors");
  const mode_t mask = ::umask(0);  // (single-threaded here)
  ::umask(mask);
  io::save(model, path);
  CHECK((std::filesystem::status(path).permissions() & std::filesystem::perms::all) ==
        static_cast<std::filesystem::perms>(0666 & ~mask));
  std::filesystem::permissions(path, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  io::save(model, path);
  CHECK((std::filesystem::status(path).permissions() & std::filesystem::perms::all) ==
        (std::filesystem::perms::owner_read | std::filesystem::perms::owner_write));
}

TEST_CASE("io::save refuses a read-only target, as cp does, and leaves it unchanged", "[io]") {
  test::TempDir dir;
  manual_seed(1);
  auto model = small_mlp();
  const auto path = dir.file("ro.safetensors");
  write_bytes(path, "old");
  std::filesystem::permissions(path, std::filesystem::perms::owner_read | std::filesystem::perms::group_read |
                                         std::filesystem::perms::others_read);  // 0444
  // (Also for root, which cp would let through: a file without write permission was made so on purpose.)
  CHECK_THROWS_WITH(io::save(model, path), Catch::Contains("ro.safetensors") && Catch::Contains("Permission denied"));
  CHECK(read_bytes(path) == "old");
  CHECK(files_in(dir.str()) == std::vector<std::string>{"ro.safetensors"});
  std::filesystem::permissions(path, std::filesystem::perms::owner_write, std::filesystem::perm_options::add);
  io::save(model, path);  // writable again: replaced
  CHECK(read_bytes(path) != "old");
}

TEST_CASE("a save removes the temporary files killed saves of the same target left, and nothing else", "[io]") {
  test::TempDir dir;
  manual_seed(1);
  auto model = small_mlp();
  const pid_t dead = [] {  // a process id that no process has any more
    const pid_t child = fork();
    if (child == 0) _exit(0);
    waitpid(child, nullptr, 0);
    return child;
  }();
  const std::string me = std::to_string(getpid());
  const std::vector<std::string> stale = {".m.safetensors.ember-tmp-" + std::to_string(dead) + "-123456",
                                          ".m.safetensors.ember-tmp-" + me + "-42"};  // this process's, not open
  const std::vector<std::string> kept = {
      ".m.safetensors.ember-tmp-1-7",                                     // pid 1 runs: maybe a parallel save
      ".other.safetensors.ember-tmp-" + std::to_string(dead) + "-1",       // another target's
      ".m.safetensors.ember-tmp-" + std::to_string(dead) + "-1.keep",     // not the pattern
      ".m.safetensors.ember-tmp-x", ".m.safetensors.tmp-" + std::to_string(dead) + "-1", "m.safetensors.bak",
      "xm.safetensors.ember-tmp-" + std::to_string(dead) + "-1"};
  for (const auto& name : stale) write_bytes(dir.file(name), "stale");
  for (const auto& name : kept) write_bytes(dir.file(name), "keep");
  io::save(model, dir.file("m.safetensors"));
  auto expected = kept;
  expected.push_back("m.safetensors");
  auto found = files_in(dir.str());
  std::sort(expected.begin(), expected.end());
  std::sort(found.begin(), found.end());
  CHECK(found == expected);
  for (const auto& name : kept) CHECK(read_bytes(dir.file(name)) == "keep");
}

TEST_CASE("saves of one target from two threads at once never remove each other's temporary file", "[io]") {
  test::TempDir dir;
  manual_seed(1);
  auto a = small_mlp();
  auto b = small_mlp();
  const auto path = dir.file("m.safetensors");
  std::atomic<int> failures{0};
  const auto saves = [&](auto& model) {
    for (int i = 0; i < 15; ++i) {
      try {
        io::save(model, path);
      } catch (const Error&) {
        ++failures;
      }
    }
  };
  std::thread first([&] { saves(a); });
  std::thread second([&] { saves(b); });
  first.join();
  second.join();
  CHECK(failures == 0);
  CHECK(files_in(dir.str()) == std::vector<std::string>{"m.safetensors"});
  io::load(a, path);
}

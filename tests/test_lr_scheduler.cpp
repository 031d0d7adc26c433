#include <ember/ember.hpp>

#include <catch2/catch.hpp>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

using namespace ember;

namespace {
// tests/golden/schedules.txt (written by make_golden_optim.py): "sequence <name> <count>" then a
// line of repr() doubles, read back exactly with strtod.
std::map<std::string, std::vector<double>> read_sequences() {
  std::ifstream in(EMBER_GOLDEN_DIR "/schedules.txt");
  REQUIRE(in);
  std::map<std::string, std::vector<double>> out;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream header(line);
    std::string word, name;
    std::size_t count = 0;
    header >> word >> name >> count;
    REQUIRE(word == "sequence");
    REQUIRE(std::getline(in, line));
    std::istringstream values(line);
    std::vector<double>& v = out[name];
    while (values >> word) v.push_back(std::strtod(word.c_str(), nullptr));
    REQUIRE(v.size() == count);
  }
  return out;
}

const std::vector<double>& sequence(const std::string& name) {
  static const auto all = read_sequences();
  const auto it = all.find(name);
  REQUIRE(it != all.end());
  return it->second;
}

struct Fixture {
  nn::Parameter<float> p{Tensor<float>({2}), Tensor<float>({2})};
  std::vector<nn::Parameter<float>*> params{&p};
};

// The schedule's rates after construction and after each step, against torch's, bit for bit
// (both are doubles computed by the same recurrence).
template <class Schedule>
void check_rates(Schedule& schedule, const std::string& name) {
  INFO("sequence " << name);
  const auto& want = sequence(name + ".lr");
  CHECK(schedule.last_epoch() == 0);
  for (std::size_t k = 0; k < want.size(); ++k) {
    if (k > 0) {
      schedule.optimizer().step();
      schedule.step();
    }
    INFO("epoch " << k);
    CHECK(schedule.get_last_lr() == want[k]);
    CHECK(schedule.optimizer().lr() == want[k]);
    CHECK(schedule.last_epoch() == static_cast<std::int64_t>(k));
  }
}
}  // namespace

TEST_CASE("StepLR follows torch 1.13 lr_scheduler.StepLR", "[lr_scheduler][golden]") {
  // Rates computed with torch 1.13 optim.lr_scheduler.StepLR (tests/golden/schedules.txt).
  Fixture f;
  SECTION("step_size 3, gamma 0.1") {
    optim::SGD optimizer(f.params, {.lr = 0.1});
    optim::StepLR schedule(optimizer, 3);
    check_rates(schedule, "step.default");
  }
  SECTION("the MNIST example's: Adadelta 1.0, step_size 1, gamma 0.7") {
    optim::Adadelta optimizer(f.params, {.lr = 1.0});
    optim::StepLR schedule(optimizer, 1, 0.7);
    check_rates(schedule, "step.mnist");
    // torch's recursive rates, not the closed form base_lr * gamma^epoch: they differ in the last bits.
    CHECK(sequence("step.mnist.lr")[4] != 1.0 * std::pow(0.7, 4));
  }
  SECTION("step_size 4, gamma 0.5") {
    optim::Adam optimizer(f.params, {.lr = 0.01});
    optim::StepLR schedule(optimizer, 4, 0.5);
    check_rates(schedule, "step.gamma");
  }
}

TEST_CASE("StepLR rejects bad options", "[lr_scheduler]") {
  Fixture f;
  optim::SGD optimizer(f.params, {.lr = 0.1});
  CHECK_THROWS_WITH(optim::StepLR(optimizer, 0), Catch::Contains("StepLR: invalid step_size 0"));
  CHECK_THROWS_WITH(optim::StepLR(optimizer, 2, -0.5), Catch::Contains("StepLR: invalid gamma -0.5"));
  CHECK(optimizer.lr() == 0.1);
}

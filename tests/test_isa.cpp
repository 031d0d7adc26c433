// The kernels compiled for each instruction set (kernels/isa.hpp) against each other. This file
// and test_kernels.cpp also form ember_isa_tests, built without -march so that the program
// carries the generic (SSE2), AVX2 and AVX-512 kernels and runs each one this CPU has.
#include <ember/ember.hpp>

#include <catch2/catch.hpp>
#include <vector>

#include "helpers.hpp"

using namespace ember;

namespace {

// Three Adam steps of a small CNN in double whose layers take every dispatched kernel: Conv2d
// with a small patch (gemm_ab forward, accumulate_abt for dweight), a 3x3 Conv2d with 16
// channels (Winograd's ab_product), MaxPool2d 2x2 (its vectorised passes), Linear (pack_abt,
// gemm_abt, gemm_ab), Adam's update. Returns every parameter, in order.
std::vector<double> isa_train_three_steps() {
  manual_seed(3);
  nn::Sequential<double> model{nn::Conv2d<double>(1, 16, 3, {.padding = 1}), nn::ReLU<double>{},
                               nn::Conv2d<double>(16, 16, 3, {.padding = 1}), nn::ReLU<double>{},
                               nn::MaxPool2d<double>(2), nn::Flatten<double>{}, nn::Linear<double>(16 * 6 * 6, 10)};
  optim::Adam<double> adam(model.parameters(), {.lr = 1e-2});
  nn::CrossEntropyLoss<double> criterion;
  const auto x = test::random_tensor<double>({5, 1, 12, 12}, 9);
  Tensor<std::int64_t> labels({5});
  for (index_t i = 0; i < 5; ++i) labels(i) = (3 * i) % 10;
  for (int step = 0; step < 3; ++step) {
    criterion.forward(model(x), labels);
    adam.zero_grad();
    model.backward(criterion.backward());
    adam.step();
  }
  std::vector<double> values;
  for (auto* p : model.parameters()) {
    const auto& v = std::as_const(p->value);
    values.insert(values.end(), v.data(), v.data() + v.numel());
  }
  return values;
}

}  // namespace

TEST_CASE("every instruction set's kernels train the same steps", "[kernels][isa]") {
  std::vector<std::vector<double>> runs;
  std::vector<kernels::Isa> isas;
  test::for_each_isa([&](kernels::Isa isa) {
    isas.push_back(isa);
    runs.push_back(isa_train_three_steps());
  });
  // A build without -march on a CPU with AVX-512 carries and runs all three.
  if (kernels::compiled_isa == kernels::Isa::generic && kernels::cpu_isa() == kernels::Isa::avx512)
    CHECK(isas.size() == 3);
  for (std::size_t r = 1; r < runs.size(); ++r) {
    INFO(kernels::name(isas[r]) << " against " << kernels::name(isas[0]));
    REQUIRE(runs[r].size() == runs[0].size());
    double worst = 0;
    for (std::size_t i = 0; i < runs[0].size(); ++i)
      worst = std::max(worst, std::abs(runs[r][i] - runs[0][i]) / std::max(1.0, std::abs(runs[0][i])));
    CHECK(worst < 1e-10);  // the same sums in other orders, in double
  }
}

TEST_CASE("Linear repacks its kept weights when the instruction set changes", "[kernels][isa][linear]") {
  manual_seed(5);
  nn::Linear<double> fc(37, 70);
  fc.eval();
  const auto x = test::random_tensor<double>({3, 37}, 2);
  Tensor<double> reference({3, 70});
  const auto& w = std::as_const(fc.weight().value);
  const auto& b = std::as_const(fc.bias().value);
  for (index_t r = 0; r < 3; ++r)
    for (index_t o = 0; o < 70; ++o) {
      double sum = b(o);
      for (index_t i = 0; i < 37; ++i) sum += x(r, i) * w(o, i);
      reference(r, o) = sum;
    }
  // Each set packs panels of its own width; a packing kept from another set would be misread.
  test::for_each_isa([&](kernels::Isa isa) {
    INFO(kernels::name(isa));
    for (int call = 0; call < 2; ++call) CHECK((fc(x).array() - reference.array()).abs().maxCoeff() < 1e-12);
  });
  test::for_each_isa([&](kernels::Isa isa) {  // and back, in the other order
    INFO(kernels::name(isa));
    CHECK((fc(x).array() - reference.array()).abs().maxCoeff() < 1e-12);
  });
}

TEST_CASE("an unknown instruction set in EMBER_ISA is an Error that lists the known ones", "[kernels][isa]") {
  CHECK_THROWS_WITH(kernels::detail::parse_isa("avx3"),
                    "EMBER_ISA: unknown instruction set 'avx3' (expected generic, avx2 or avx512)");
  CHECK(kernels::detail::parse_isa("avx2") == kernels::Isa::avx2);
  // Asking for more than the CPU (or the build) has is refused, naming what there is.
  if (kernels::cpu_isa() < kernels::Isa::avx512)
    CHECK_THROWS_WITH(kernels::set_isa(kernels::Isa::avx512), Catch::Contains("has no avx512 kernels"));
}

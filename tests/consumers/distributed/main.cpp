// A program of a find_package(ember COMPONENTS distributed) project: two ranks average a Linear's
// gradients (run by ctest under mpirun -n 2).
#include <ember/distributed.hpp>
#include <ember/ember.hpp>

#include <cstdio>

int main(int argc, char** argv) {
  using namespace ember;
  dist::Environment env(argc, argv);
  manual_seed(static_cast<std::uint64_t>(env.rank()));
  nn::Linear<float> fc(3, 2);
  dist::DataParallel ddp(fc);
  Tensor<float> x({4, 3});
  x.fill(static_cast<float>(env.rank() + 1));  // rank r's inputs are all r + 1
  Tensor<float> dy({4, 2});
  dy.fill(1.0f);
  ddp(x);
  ddp.backward(dy);
  // dW[i][j] = sum over the batch of dy * x = 4 (r + 1); the mean over ranks 0..n-1 is 2 (n + 1).
  const float expected = 2.0f * static_cast<float>(env.world_size() + 1);
  const float got = fc.parameters()[0]->grad.data()[0];
  if (got != expected) env.abort("expected the mean gradient " + std::to_string(expected) + ", got " + std::to_string(got));
  if (env.is_main()) std::printf("consumer: %d ranks, mean gradient %g\n", env.world_size(), got);
}

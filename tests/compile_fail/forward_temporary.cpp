// A temporary handed to a model's forward() or call: layers keep pointers to their inputs until
// backward, so it must not compile (also for a model of your own, whose forward() override would
// otherwise hide the deleted overload). EXPECT: deleted
#include <ember/ember.hpp>
namespace F = ember::nn::functional;
struct Net : ember::nn::Module<float> {
  ember::nn::Linear<> fc{4, 2};
  EMBER_MODULE(Net, fc)
  const ember::Tensor<>& forward(const ember::Tensor<>& x) override { return fc(x); }
};
ember::Tensor<> make_batch() { return ember::Tensor<>({3, 4}); }
int main() {
  Net net;
#ifdef CONTROL
  const auto batch = make_batch();
  net.forward(batch);
  net(batch);
#else
  net.forward(make_batch());
#endif
}

// A temporary handed to module(x). EXPECT: deleted
#include <ember/ember.hpp>
int main() {
  ember::nn::Linear<> fc{4, 2};
  ember::Tensor<> x({3, 4});
#ifdef CONTROL
  fc(x);
#else
  fc(x.reshape({4, 3}).reshape({3, 4}));
#endif
}

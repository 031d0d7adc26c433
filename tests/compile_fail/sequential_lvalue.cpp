// A named layer handed to Sequential would be copied and trained apart from the original.
// EXPECT: Sequential owns its layers
#include <ember/ember.hpp>
#include <utility>
int main() {
  ember::nn::Linear<> fc{4, 2};
#ifdef CONTROL
  ember::nn::Sequential model{std::move(fc)};
#else
  ember::nn::Sequential model{fc};
#endif
}

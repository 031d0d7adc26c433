// Includes the kernel file named by EMBER_ISA_BODY once per instruction set (kernels/isa.hpp):
// in ember::kernels::generic for the compiler's flags, and, where the program dispatches, in
// ember::kernels::avx2 and ember::kernels::avx512 for the sets the flags do not give, each
// compiled for its set. Usage, in the header that dispatches to the kernels:
//     #define EMBER_ISA_BODY "ember/kernels/gemm_isa.hpp"
//     #include "ember/kernels/foreach_isa.hpp"
// No include guard: every inclusion is for another kernel file.
#if !defined(EMBER_ISA_BODY)
#error "define EMBER_ISA_BODY (the kernel file) before including ember/kernels/foreach_isa.hpp"
#endif

#include "ember/kernels/isa.hpp"

namespace ember::kernels::generic {
#include EMBER_ISA_BODY
}  // namespace ember::kernels::generic

#if defined(EMBER_KERNELS_AVX2)
EMBER_ISA_BEGIN(EMBER_ISA_TARGET_AVX2)
namespace ember::kernels::avx2 {
#include EMBER_ISA_BODY
}  // namespace ember::kernels::avx2
EMBER_ISA_END
#endif

#if defined(EMBER_KERNELS_AVX512)
EMBER_ISA_BEGIN(EMBER_ISA_TARGET_AVX512)
namespace ember::kernels::avx512 {
#include EMBER_ISA_BODY
}  // namespace ember::kernels::avx512
EMBER_ISA_END
#endif

#undef EMBER_ISA_BODY

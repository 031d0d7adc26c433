// Every ember header includes Eigen through this one, so that one setting comes first.
#pragma once

// Eigen's GEMM packs its operands into buffers that it takes from the stack up to
// EIGEN_STACK_ALLOCATION_LIMIT bytes (128 KB by default) and from malloc above that, on every
// product. The seed models' products need up to ~200 KB, so ember raises the limit to 512 KB:
// then a steady-state training step allocates nothing at all (tests/allocations.cpp checks it).
// Include ember before Eigen (or define the limit yourself) to get this; otherwise Eigen mallocs
// its buffers, which is correct, only slower.
#if !defined(EIGEN_STACK_ALLOCATION_LIMIT)
#define EIGEN_STACK_ALLOCATION_LIMIT 524288
#endif

#include <Eigen/Core>

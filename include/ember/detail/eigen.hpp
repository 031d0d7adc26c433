// Every ember header includes Eigen through this one.
#pragma once

// ember's settings of Eigen are compile definitions of the ember::ember CMake target, so they are
// the same in every translation unit whatever the include order (a #define here would depend on
// whether Eigen was included first):
//   EIGEN_STACK_ALLOCATION_LIMIT=524288  Eigen's GEMM takes its packing buffers from the stack up
//       to this many bytes and from malloc above it, on every product. The seed models' products
//       need up to ~200 KB, beyond Eigen's default 128 KB: with the larger limit a steady-state
//       training step allocates nothing (tests/allocations.cpp checks it).
//   EIGEN_DONT_PARALLELIZE  ember splits the work among threads itself (OpenMP, threads.hpp) and
//       runs each Eigen product on one thread: Eigen's own threading cost more than it gained on
//       these small products, allocated on every call, and would make results depend on it.
// Without CMake, pass the same two definitions to the compiler. Without them ember is correct,
// only slower (Eigen mallocs its buffers) and Eigen's products may use several threads.

#include <Eigen/Core>

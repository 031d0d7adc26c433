// The passes of MaxPool2d's 2x2 stride-2 kernels (kernels/pool.hpp) that vectorise, compiled once
// per instruction set: kernels/pool.hpp includes this file through kernels/foreach_isa.hpp and
// calls the passes for ranges of rows inside its parallel loops. `replaces` is kernels/pool.hpp's.
//
// No include guard, no includes: a part of kernels/pool.hpp. No lambdas (see gemm_isa.hpp).

// Pass 1 of maxpool_2x2_even, output rows [r_begin, r_end): for each column, the larger of input
// rows 2r and 2r + 1 (the upper wins a tie) and the winner's offset in x.
template <class T>
void maxpool_2x2_vertical(const T* x, T* vmax, std::int32_t* voff, index_t r_begin, index_t r_end, index_t w) {
  for (index_t r = r_begin; r < r_end; ++r) {
    const T* upper = x + 2 * r * w;
    const T* lower = upper + w;
    T* vm = vmax + r * w;
    std::int32_t* vo = voff + r * w;
    const auto upper_offset = static_cast<std::int32_t>(2 * r * w), wi = static_cast<std::int32_t>(w);
#pragma omp simd
    for (index_t c = 0; c < w; ++c) {
      const bool low = replaces(lower[c], upper[c]);
      vm[c] = low ? lower[c] : upper[c];
      vo[c] = upper_offset + static_cast<std::int32_t>(c) + (low ? wi : 0);
    }
  }
}

// Pass 2, pairs [k_begin, k_end) of columns of pass 1's rows: the larger of each pair; on a tie
// the one earlier in row-major order (the smaller offset).
template <class T>
void maxpool_2x2_horizontal(const T* vmax, const std::int32_t* voff, T* y, std::int32_t* argmax, index_t k_begin,
                            index_t k_end) {
#pragma omp simd
  for (index_t k = k_begin; k < k_end; ++k) {
    const T left = vmax[2 * k], right = vmax[2 * k + 1];
    const std::int32_t lo = voff[2 * k], ro = voff[2 * k + 1];
    const bool take_right = replaces(right, left) | ((right == left) & (ro < lo));
    y[k] = take_right ? right : left;
    argmax[k] = take_right ? ro : lo;
  }
}

// maxpool_2x2_narrow's pass 1, values [q_begin, q_end) of h: the first maximum of x[2q], x[2q + 1].
template <class T>
void maxpool_2x2_pairs(const T* x, T* h, std::int32_t* hoff, index_t q_begin, index_t q_end) {
#pragma omp simd
  for (index_t q = q_begin; q < q_end; ++q) {
    const T left = x[2 * q], right = x[2 * q + 1];
    const bool take_right = replaces(right, left);
    h[q] = take_right ? right : left;
    hoff[q] = static_cast<std::int32_t>(2 * q) + (take_right ? 1 : 0);
  }
}

// Its pass 2: v[q] = h[q], or h[q + ow] when strictly greater (or the first NaN).
template <class T>
void maxpool_2x2_rows(const T* h, const std::int32_t* hoff, T* v, std::int32_t* voff, index_t ow, index_t q_begin,
                      index_t q_end) {
#pragma omp simd
  for (index_t q = q_begin; q < q_end; ++q) {
    const T upper = h[q], lower = h[q + ow];
    const bool take_lower = replaces(lower, upper);
    v[q] = take_lower ? lower : upper;
    voff[q] = take_lower ? hoff[q + ow] : hoff[q];
  }
}

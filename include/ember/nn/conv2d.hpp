// nn::Conv2d: 2-d cross-correlation, as torch.nn.Conv2d (with stride, zero padding, dilation and
// groups), by im2col + one GEMM per sample and group (the kernels in kernels/im2col.hpp and
// kernels/gemm.hpp), or, for 3x3 stride-1 kernels over whole packets of channels, by Winograd's
// F(2x2, 3x3) (kernels/winograd.hpp); nn::reference::conv2d_* beside it are the obviously correct
// loops the tests compare it with.
#pragma once

#include <algorithm>
#include <cmath>
#include <ostream>
#include <string>
#include <utility>

#include "ember/kernels/gemm.hpp"
#include "ember/kernels/im2col.hpp"
#include "ember/kernels/shape.hpp"
#include "ember/kernels/winograd.hpp"
#include "ember/error.hpp"
#include "ember/nn/module.hpp"
#include "ember/random.hpp"
#include "ember/tensor.hpp"
#include "ember/threads.hpp"

namespace ember::nn {

// A size or step per spatial axis: `3` means (3, 3); `{3, 2}` means (h 3, w 2).
struct Size2 {
  index_t h, w;
  bool single = false;  // given as one number: the poolings' repr prints it so, as PyTorch's does
  Size2(index_t both) : h(both), w(both), single(true) {}  // NOLINT: implicit, so `.stride = 2` reads as in PyTorch
  Size2(index_t h_, index_t w_) : h(h_), w(w_) {}
  friend std::ostream& operator<<(std::ostream& out, const Size2& s) { return out << "(" << s.h << ", " << s.w << ")"; }
  // As given: "2" for Size2(2), "(2, 3)" for Size2(2, 3) (MaxPool2d's repr; Conv2d's is always a pair).
  struct AsGiven {
    const Size2& s;
    friend std::ostream& operator<<(std::ostream& out, const AsGiven& a) {
      return a.s.single ? out << a.s.h : out << a.s;
    }
  };
  AsGiven as_given() const { return {*this}; }
};

struct Conv2dOptions {
  Size2 stride = 1;
  Size2 padding = 0;   // zeros
  Size2 dilation = 1;  // the spacing of the kernel's taps
  index_t groups = 1;  // in and out channels in `groups` independent blocks; groups = in_channels: depthwise
  bool bias = true;
};

template <class T = float>
class Conv2d : public Module<T> {
 public:
  // Each call keeps its own saved state (detail::Tape): one object may be used several times.
  bool keeps_each_use() const override { return true; }
  // weight: (out_channels, in_channels / groups, kh, kw), bias: (out_channels,), PyTorch's default init.
  // (options by const reference: GCC 12 with -march=native on AVX-512 miscompiles this
  // aggregate when it is a by-value default argument, and the stride/padding come out wrong.)
  Conv2d(index_t in_channels, index_t out_channels, Size2 kernel_size, const Conv2dOptions& options = {})
      : in_(in_channels), out_(out_channels), kernel_(kernel_size), options_(options) {
    ember::detail::check(in_channels > 0 && out_channels > 0 && kernel_.h > 0 && kernel_.w > 0, *this,
                         ": channels and kernel size must be positive");
    ember::detail::check(options.stride.h > 0 && options.stride.w > 0, *this, ": stride must be positive");
    ember::detail::check(options.padding.h >= 0 && options.padding.w >= 0, *this, ": padding must be >= 0");
    ember::detail::check(options.dilation.h > 0 && options.dilation.w > 0, *this, ": dilation must be positive, got ",
                         options.dilation);
    ember::detail::check(options.groups > 0, *this, ": groups must be positive, got ", options.groups);
    ember::detail::check(in_channels % options.groups == 0, *this, ": in_channels (", in_channels,
                         ") must be divisible by groups (", options.groups, ")");
    ember::detail::check(out_channels % options.groups == 0, *this, ": out_channels (", out_channels,
                         ") must be divisible by groups (", options.groups, ")");
    const Shape wshape{out_channels, in_channels / options.groups, kernel_.h, kernel_.w};
    weight_.value.resize(wshape);
    weight_.grad.resize(wshape);
    init::kaiming_uniform_(weight_.value);
    if (options_.bias) {
      bias_.value.resize({out_channels});
      bias_.grad.resize({out_channels});
      const double bound = 1.0 / std::sqrt(static_cast<double>(in_channels / options.groups * kernel_.h * kernel_.w));
      init::uniform_(bias_.value, -bound, bound);
    }
  }

  // x: (N, C_in, H, W) -> y: (N, C_out, OH, OW), OH = floor((H + 2 ph - dh (kh - 1) - 1) / sh) + 1.
  // Group gi's outputs (C_out/groups of them) read its C_in/groups input channels: its rows of
  // the columns and of the weight are contiguous blocks, one GEMM each.
  const Tensor<T>& forward(const Tensor<T>& x) override {
    const kernels::ConvGeometry g = geometry(x);
    Saved& saved = tape_.record(this->training_, &x);
    saved.g = g;
    if (kernels::winograd::applies<T>(g, out_, options_.groups)) return forward_winograd(x, saved);
    const index_t k = g.patch(), p = g.out_plane();
    const index_t groups = options_.groups, kg = k / groups, og = out_ / groups;  // per group
    saved.y.resize_uninitialized({g.n, out_, g.oh, g.ow});
    // In train mode cols: (N, C_in*kh*kw, OH*OW) is kept for backward when a sample's columns are
    // small (see recompute_cols); otherwise, and in eval mode, one sample's per thread will do.
    const bool keep = this->training_ && !recompute_cols(k, p);
    const index_t in_sample = g.c * g.h * g.w, threads = get_num_threads();
    if (keep) saved.cols.resize_uninitialized({g.n, k, p});
    else cols_.resize_uninitialized({threads, k, p});
    if (this->training_ && !keep) saved.x.save(x);
    T* const y_data = saved.y.data();
    T* const cols = keep ? saved.cols.data() : cols_.data();
    const T* const w = std::as_const(weight_.value).data();
    const T* const b = options_.bias ? std::as_const(bias_.value).data() : nullptr;
    const bool stride1 = is_stride1(), small_patch = is_small_patch(kg);
    const auto layout = kernels::PaddedLayout::of<T>(g);
    if (stride1) padded_.resize_uninitialized({threads, layout.size});
    T* const padded = stride1 ? padded_.data() : nullptr;
    ember::detail::parallel_for(g.n, g.n > 1, [&](index_t n_begin, index_t n_end) {
      for (index_t n = n_begin; n < n_end; ++n) {
        T* col = cols + (keep ? n : ember::detail::thread_index()) * k * p;
        if (stride1) {
          T* xp = padded + ember::detail::thread_index() * layout.size;
          kernels::pad_into(x.data() + n * in_sample, xp, g, layout);
          kernels::im2col_stride1(xp, col, g, layout);
        } else {
          kernels::im2col(x.data() + n * in_sample, col, g);
        }
        for (index_t gi = 0; gi < groups; ++gi) {
          const T* w_g = w + gi * og * kg;  // (og, kg)
          const T* col_g = col + gi * kg * p;  // (kg, p)
          T* y_g = y_data + (n * out_ + gi * og) * p;  // (og, p)
          const T* b_g = b ? b + gi * og : nullptr;
          if (small_patch) {  // y_g = w_g col_g + b_g, by the register-blocked kernel
            kernels::gemm_ab(w_g, col_g, y_g, og, p, {.ars = kg, .acs = 1, .ldb = p, .ldc = p, .k = kg}, b_g);
          } else {
            // y_g^T (OH*OW, og) = col_g^T w_g^T: the same memory seen column-major, so the GEMM's long
            // side is OH*OW rather than C_out (Eigen's kernel is 48 rows tall; C_out is 6 or 16).
            ColMap y_t(y_g, p, og);
            y_t.noalias() = ConstColMap(col_g, p, kg) * ConstColMap(w_g, kg, og);
            if (b_g) y_t.rowwise() += Eigen::Map<const Eigen::Matrix<T, 1, Eigen::Dynamic>>(b_g, og);
          }
        }
      }
    });
    return saved.y;
  }
  const Tensor<T>& forward(Tensor<T>&&) = delete;  // keep the input alive, as for Linear

  // dy: (N, C_out, OH, OW) -> dx: (N, C_in, H, W) (skipped when the input needs no gradient);
  // dweight += sum_n dy_n col_n^T, dbias += sum of dy over n, OH, OW.
  const Tensor<T>& backward(const Tensor<T>& dy) override {
    Saved& saved = tape_.pop(*this);
    ember::detail::check(dy.shape() == saved.y.shape(), *this, ": expected dy of shape ", saved.y.shape(),
                         " (the output's), got ", dy.shape());
    const kernels::ConvGeometry g = saved.g;
    if (kernels::winograd::applies<T>(g, out_, options_.groups)) return backward_winograd(dy, saved);
    const index_t k = g.patch(), p = g.out_plane();
    const index_t groups = options_.groups, kg = k / groups, og = out_ / groups;  // per group
    const bool need_dx = this->needs_input_grad_;
    const bool stride1 = is_stride1();
    if (need_dx && stride1) saved.dx.resize_uninitialized({g.n, g.c, g.h, g.w});  // every value is written
    else if (need_dx) saved.dx.resize({g.n, g.c, g.h, g.w});                     // col2im_add adds into zeros
    else saved.dx.resize_uninitialized({0});
    // Per-thread partial dweight / dbias, summed in a fixed order: bit-identical results for a
    // fixed thread count.
    const index_t threads = get_num_threads();
    // dweight of a small patch: packets of partial sums per thread (see is_small_patch).
    const bool lane_dw = is_small_patch(kg);
    const index_t dw_width = lane_dw ? kernels::lanes_now<T>() : 1;
    partial_dw_.resize({threads, out_, kg, dw_width});
    partial_db_.resize({threads, out_});
    const index_t dcol_size = k * p + simd_lanes;
    const auto layout = kernels::PaddedLayout::of<T>(g);
    if (need_dx) dcols_.resize_uninitialized({threads, dcol_size});
    const bool recompute = recompute_cols(k, p);
    const Tensor<T>* const x = recompute ? &saved.x.get(*this) : nullptr;  // an Error if it was written to
    if (recompute) cols_.resize_uninitialized({threads, k, p});
    if ((need_dx || recompute) && stride1) padded_.resize_uninitialized({threads, layout.size});
    const auto w = std::as_const(weight_.value).matrix();  // (C_out, kg)
    T* const partial_dw = partial_dw_.data();
    T* const partial_db = partial_db_.data();
    T* const dcols = need_dx ? dcols_.data() : nullptr;
    T* const padded = (need_dx || recompute) && stride1 ? padded_.data() : nullptr;
    T* const dx = need_dx ? saved.dx.data() : nullptr;
    const T* const cols = recompute ? nullptr : std::as_const(saved.cols).data();
    T* const cols_scratch = recompute ? cols_.data() : nullptr;
    const index_t in_sample = g.c * g.h * g.w;
    ember::detail::on_threads(g.n > 1, [&](index_t t, index_t nt) {
      T* dw_t = partial_dw + t * out_ * kg * dw_width;
      Eigen::Map<Eigen::Array<T, Eigen::Dynamic, 1>> db(partial_db + t * out_, out_);
      index_t begin, end;
      ember::detail::static_block(g.n, t, nt, begin, end);
      for (index_t n = begin; n < end; ++n) {
        typename Tensor<T>::ConstSliceMap dy_n(dy.data() + n * out_ * p, out_, p);
        const T* col = recompute ? cols_scratch + t * k * p : cols + n * k * p;
        if (recompute) {  // the forward's im2col of sample n again (xp is free again after it)
          T* c = cols_scratch + t * k * p;
          if (stride1) {
            T* xp = padded + t * layout.size;
            kernels::pad_into(x->data() + n * in_sample, xp, g, layout);
            kernels::im2col_stride1(xp, c, g, layout);
          } else {
            kernels::im2col(x->data() + n * in_sample, c, g);
          }
        }
        for (index_t gi = 0; gi < groups; ++gi) {
          const T* dy_g = dy_n.data() + gi * og * p;  // (og, p)
          const T* col_g = col + gi * kg * p;           // (kg, p)
          T* dw_g = dw_t + gi * og * kg * dw_width;
          if (lane_dw)  // dweight_g += dy_g col_g^T
            kernels::accumulate_abt(dy_g, col_g, {p, p, p}, og, kg, dw_g);
          else  // dweight_g^T += col_g dy_g^T
            ColMap(dw_g, kg, og).noalias() += typename Tensor<T>::ConstSliceMap(col_g, kg, p) *
                                              typename Tensor<T>::ConstSliceMap(dy_g, og, p).transpose();
        }
        if (options_.bias) db += dy_n.rowwise().sum().array();
        if (need_dx) {
          typename Tensor<T>::SliceMap dcol(dcols + t * dcol_size, k, p);
          if (groups == 1)
            dcol.noalias() = w.transpose() * dy_n;
          else  // dcol_g (kg, p) = w_g^T dy_g
            for (index_t gi = 0; gi < groups; ++gi)
              dcol.middleRows(gi * kg, kg).noalias() =
                  w.middleRows(gi * og, og).transpose() * dy_n.middleRows(gi * og, og);
          if (stride1) {
            T* dxp = padded + t * layout.size;
            std::fill_n(dxp, layout.size, T(0));
            kernels::col2im_stride1_add(dcol.data(), dxp, g, layout, dcols + (t + 1) * dcol_size);
            kernels::unpad_into(dxp, dx + n * in_sample, g, layout);
          } else {
            kernels::col2im_add(dcol.data(), dx + n * in_sample, g);
          }
        }
      }
    });
    using Partial = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
    for (index_t t = 0; t < threads; ++t) {
      weight_.grad.array() +=
          Eigen::Map<const Partial>(partial_dw + t * out_ * kg * dw_width, out_ * kg, dw_width).rowwise().sum().array();
      if (options_.bias) bias_.grad.matrix().row(0) += std::as_const(partial_db_).matrix().row(t);
    }
    return saved.dx;
  }

  void visit_state(StateVisitor<T>& v, const Name* prefix = nullptr) override {
    v.parameter(Name(prefix, "weight"), weight_);
    if (options_.bias) v.parameter(Name(prefix, "bias"), bias_);
  }
  Parameter<T>& weight() { return weight_; }
  Parameter<T>& bias() {
    ember::detail::check(options_.bias, *this, ": this layer has no bias");
    return bias_;
  }

  // The output shape for an input shape, or an Error naming the layer and the shapes.
  Shape output_shape(const Shape& x) const {
    const auto g = geometry_of(x);
    return {g.n, out_, g.oh, g.ow};
  }

  void print(std::ostream& out, int = 0) const override {
    out << "Conv2d(" << in_ << ", " << out_ << ", kernel_size=" << kernel_ << ", stride=" << options_.stride;
    if (options_.padding.h || options_.padding.w) out << ", padding=" << options_.padding;
    if (options_.dilation.h != 1 || options_.dilation.w != 1) out << ", dilation=" << options_.dilation;
    if (options_.groups != 1) out << ", groups=" << options_.groups;
    if (!options_.bias) out << ", bias=False";
    out << ")";
  }

 private:
  using ColMatrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::ColMajor>;
  using ColMap = Eigen::Map<ColMatrix>;
  using ConstColMap = Eigen::Map<const ColMatrix>;
  static constexpr index_t simd_lanes = kernels::simd::lanes<T>;

  // Stride 1 (any dilation) takes the path on a zero-padded copy (kernels/im2col.hpp).
  bool is_stride1() const { return options_.stride.h == 1 && options_.stride.w == 1; }
  // A patch (C_in/groups*kh*kw) under 3 packets of the kernels' instruction set, 48 floats with
  // AVX-512 (LeNet's first layer: 25, the seed CNN's: 9), is under the height of Eigen's GEMM
  // kernel, which then wastes most of it: the forward and dweight take the short-patch kernels of
  // kernels/gemm.hpp instead.
  static bool is_small_patch(index_t patch) { return patch < 3 * kernels::lanes_now<T>(); }
  // Train mode keeps the batch's columns for backward while a sample's are small (the seed CNN's
  // 6,084 values, LeNet's 15,000); larger ones (mnist_convnet's second layer: 288 x 576 = 166K
  // values, 42 MB at batch 64) would go to memory and back, so backward keeps x and redoes each
  // sample's im2col into a per-thread buffer that stays in cache (about 1.5% more instructions).
  static bool recompute_cols(index_t patch, index_t plane) { return patch * plane > 32768; }

  kernels::ConvGeometry geometry_of(const Shape& x) const {
    ember::detail::check(x.dim() == 4 && x[1] == in_, *this, ": expected input of shape (N, ", in_, ", H, W), got ", x);
    kernels::ConvGeometry g{x[0], x[1], x[2], x[3], kernel_.h, kernel_.w, options_.stride.h, options_.stride.w,
                           options_.padding.h, options_.padding.w, 0, 0, options_.dilation.h, options_.dilation.w};
    ember::detail::check(g.h + 2 * g.ph >= g.dh * (g.kh - 1) + 1 && g.w + 2 * g.pw >= g.dw * (g.kw - 1) + 1, *this,
                         ": the kernel ", kernel_, " (dilation ", options_.dilation, ") does not fit the padded input ",
                         x, " (padding ", options_.padding, ")");
    g.oh = kernels::output_size(g.h, g.kh, g.sh, g.ph, g.dh);
    g.ow = kernels::output_size(g.w, g.kw, g.sw, g.pw, g.dw);
    return g;
  }
  kernels::ConvGeometry geometry(const Tensor<T>& x) const { return geometry_of(x.shape()); }

  index_t in_, out_;
  Size2 kernel_;
  Conv2dOptions options_;
  Parameter<T> weight_, bias_;
  struct Saved {          // one use of the layer
    kernels::ConvGeometry g{};
    Tensor<T> y;          // y: (N, C_out, OH, OW)
    Tensor<T> cols;       // cols: (N, C_in*kh*kw, OH*OW), im2col of x, or empty (recompute_cols)
    detail::SavedInput<T> x;  // x, when backward redoes the im2col (recompute_cols)
    Tensor<T> dx;         // dx: (N, C_in, H, W), its own per use (a use's dy may be another's dx)
  };
  detail::Tape<Saved> tape_;
  Tensor<T> cols_;        // (threads, C_in*kh*kw, OH*OW): one sample's cols per thread, scratch
  Tensor<T> dcols_;       // dcols: (threads, C_in*kh*kw * OH*OW + a packet), scratch
  Tensor<T> padded_;      // (threads, PaddedLayout::size): xp or dxp of stride 1, scratch
  Tensor<T> partial_dw_;  // (threads, C_out, C_in/groups*kh*kw, 1 or a packet of partial sums), or dU
  Tensor<T> partial_db_;  // (threads, C_out)
  Tensor<T> winograd_weights_;  // (16 C_in C_out): U (forward) or U^T (backward) of kernels::winograd, scratch
  Tensor<T> winograd_scratch_;  // (threads, a winograd::Plan's forward or backward scratch size), scratch

  // Winograd's F(2x2, 3x3): each thread takes whole samples (kernels/winograd.hpp). Train mode
  // keeps x; backward redoes the input transform.
  const Tensor<T>& forward_winograd(const Tensor<T>& x, Saved& saved) {
    const kernels::ConvGeometry& g = saved.g;
    const auto plan = kernels::winograd::Plan::of(g, out_);
    if (this->training_) saved.x.save(x);
    const index_t threads = get_num_threads(), in_sample = g.c * g.h * g.w, out_sample = out_ * g.out_plane();
    saved.y.resize_uninitialized({g.n, out_, g.oh, g.ow});
    winograd_weights_.resize_uninitialized({plan.weights_size()});
    T* const u = winograd_weights_.data();
    kernels::winograd::transform_weights(std::as_const(weight_.value).data(), plan, u, static_cast<T*>(nullptr));
    const index_t scratch_size = plan.forward_scratch_size();
    winograd_scratch_.resize_uninitialized({threads, scratch_size});
    T* const scratch = winograd_scratch_.data();
    const T* const b = options_.bias ? std::as_const(bias_.value).data() : nullptr;
    T* const y = saved.y.data();
    ember::detail::parallel_for(g.n, g.n > 1, [&](index_t n_begin, index_t n_end) {
      for (index_t n = n_begin; n < n_end; ++n)
        kernels::winograd::forward(x.data() + n * in_sample, u, b, plan, scratch + ember::detail::thread_index() * scratch_size,
                                   y + n * out_sample);
    });
    return saved.y;
  }

  const Tensor<T>& backward_winograd(const Tensor<T>& dy, Saved& saved) {
    const kernels::ConvGeometry& g = saved.g;
    const auto plan = kernels::winograd::Plan::of(g, out_);
    const Tensor<T>& x = saved.x.get(*this);  // an Error if it was written to
    const bool need_dx = this->needs_input_grad_;
    if (need_dx) saved.dx.resize_uninitialized({g.n, g.c, g.h, g.w});  // every value is written
    else saved.dx.resize_uninitialized({0});
    const index_t threads = get_num_threads(), in_sample = g.c * g.h * g.w, p = g.out_plane();
    winograd_weights_.resize_uninitialized({plan.weights_size()});
    T* const ut = winograd_weights_.data();
    kernels::winograd::transform_weights(std::as_const(weight_.value).data(), plan, static_cast<T*>(nullptr), ut);
    const index_t scratch_size = plan.backward_scratch_size();
    winograd_scratch_.resize_uninitialized({threads, scratch_size});
    T* const scratch = winograd_scratch_.data();
    // Per-thread partial dU and dbias, summed in a fixed order: bit-identical results for a
    // fixed thread count.
    partial_dw_.resize({threads, plan.weights_size()});
    partial_db_.resize({threads, out_});
    T* const partial_du = partial_dw_.data();
    T* const partial_db = partial_db_.data();
    T* const dx = need_dx ? saved.dx.data() : nullptr;
    ember::detail::on_threads(g.n > 1, [&](index_t t, index_t nt) {
      Eigen::Map<Eigen::Array<T, Eigen::Dynamic, 1>> db(partial_db + t * out_, out_);
      index_t begin, end;
      ember::detail::static_block(g.n, t, nt, begin, end);
      for (index_t n = begin; n < end; ++n) {
        const T* dy_n = dy.data() + n * out_ * p;
        kernels::winograd::backward(x.data() + n * in_sample, dy_n, ut, plan, scratch + t * scratch_size,
                                    partial_du + t * plan.weights_size(), dx ? dx + n * in_sample : nullptr);
        if (options_.bias) db += typename Tensor<T>::ConstSliceMap(dy_n, out_, p).rowwise().sum().array();
      }
    });
    auto du = partial_dw_.matrix();  // (threads, 16 C_out C_in)
    for (index_t t = 1; t < threads; ++t) du.row(0) += du.row(t);
    kernels::winograd::add_weight_gradient(partial_du, plan, weight_.grad.data());
    if (options_.bias)
      for (index_t t = 0; t < threads; ++t) bias_.grad.matrix().row(0) += std::as_const(partial_db_).matrix().row(t);
    return saved.dx;
  }
};

static_assert(Layer<Conv2d<float>>);

namespace reference {

// The seven loops of the definition: y[n, o, i, j] = b[o] + sum_{c, u, v} w[o, c, u, v] *
// x[n, g*Cg + c, i*sh - ph + u*dh, j*sw - pw + v*dw] (zero outside x), where g = o / (O/groups) is
// o's group and Cg = C/groups its input channels. Slow and obviously right.
template <class T>
Tensor<T> conv2d_forward(const Tensor<T>& x, const Tensor<T>& w, const Tensor<T>* b, Size2 stride, Size2 padding,
                         Size2 dilation = 1, index_t groups = 1) {
  const index_t N = x.size(0), H = x.size(2), W = x.size(3);
  const index_t O = w.size(0), CG = w.size(1), KH = w.size(2), KW = w.size(3), OG = O / groups;
  const index_t OH = kernels::output_size(H, KH, stride.h, padding.h, dilation.h);
  const index_t OW = kernels::output_size(W, KW, stride.w, padding.w, dilation.w);
  Tensor<T> y({N, O, OH, OW});
  for (index_t n = 0; n < N; ++n)
    for (index_t o = 0; o < O; ++o)
      for (index_t i = 0; i < OH; ++i)
        for (index_t j = 0; j < OW; ++j) {
          double acc = b ? static_cast<double>((*b)(o)) : 0.0;
          for (index_t c = 0; c < CG; ++c)
            for (index_t u = 0; u < KH; ++u)
              for (index_t v = 0; v < KW; ++v) {
                const index_t yy = i * stride.h - padding.h + u * dilation.h;
                const index_t xx = j * stride.w - padding.w + v * dilation.w;
                if (yy >= 0 && yy < H && xx >= 0 && xx < W)
                  acc += static_cast<double>(w(o, c, u, v) * x(n, o / OG * CG + c, yy, xx));
              }
          y(n, o, i, j) = static_cast<T>(acc);
        }
  return y;
}

// The same loops, differentiated: returns dx, and adds into dw and db.
template <class T>
Tensor<T> conv2d_backward(const Tensor<T>& x, const Tensor<T>& w, const Tensor<T>& dy, Tensor<T>& dw, Tensor<T>* db,
                          Size2 stride, Size2 padding, Size2 dilation = 1, index_t groups = 1) {
  const index_t N = x.size(0), H = x.size(2), W = x.size(3);
  const index_t O = w.size(0), CG = w.size(1), KH = w.size(2), KW = w.size(3), OH = dy.size(2), OW = dy.size(3);
  const index_t OG = O / groups;
  Tensor<T> dx(x.shape());
  for (index_t n = 0; n < N; ++n)
    for (index_t o = 0; o < O; ++o)
      for (index_t i = 0; i < OH; ++i)
        for (index_t j = 0; j < OW; ++j) {
          const T g = dy(n, o, i, j);
          if (db) (*db)(o) += g;
          for (index_t c = 0; c < CG; ++c)
            for (index_t u = 0; u < KH; ++u)
              for (index_t v = 0; v < KW; ++v) {
                const index_t yy = i * stride.h - padding.h + u * dilation.h;
                const index_t xx = j * stride.w - padding.w + v * dilation.w;
                if (yy < 0 || yy >= H || xx < 0 || xx >= W) continue;
                const index_t ci = o / OG * CG + c;
                dw(o, c, u, v) += g * x(n, ci, yy, xx);
                dx(n, ci, yy, xx) += g * w(o, c, u, v);
              }
        }
  return dx;
}

}  // namespace reference
}  // namespace ember::nn

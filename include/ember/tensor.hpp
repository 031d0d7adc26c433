// Tensor<T>: up to 4-d (NCHW), contiguous, 64-byte-aligned row-major storage,
// with zero-copy Eigen maps for matrix work.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <memory>
#include <ostream>

#include "ember/detail/eigen.hpp"

#include "ember/error.hpp"

namespace ember {

using index_t = std::int64_t;

// The dimensions of a tensor: 0 to 4 of them, PyTorch order (N, C, H, W).
class Shape {
 public:
  static constexpr int max_dims = 4;

  Shape() = default;
  Shape(std::initializer_list<index_t> dims) {
    detail::check(dims.size() <= max_dims, "Shape: at most ", max_dims, " dimensions are supported, got ",
                  dims.size());
    for (index_t d : dims) {
      detail::check(d >= 0, "Shape: dimensions must be >= 0, got ", d);
      dims_[rank_++] = d;
    }
  }
  template <class It>
  static Shape from_range(It first, It last) {
    Shape s;
    for (; first != last; ++first) {
      detail::check(s.rank_ < max_dims, "Shape: at most ", max_dims, " dimensions are supported");
      detail::check(*first >= 0, "Shape: dimensions must be >= 0, got ", *first);
      s.dims_[s.rank_++] = static_cast<index_t>(*first);
    }
    return s;
  }

  int dim() const { return rank_; }
  index_t operator[](int d) const { return dims_[d]; }
  index_t numel() const {
    index_t n = 1;
    for (int d = 0; d < rank_; ++d) n *= dims_[d];
    return n;
  }
  const index_t* begin() const { return dims_.data(); }
  const index_t* end() const { return dims_.data() + rank_; }

  friend bool operator==(const Shape& a, const Shape& b) {
    return a.rank_ == b.rank_ && std::equal(a.begin(), a.end(), b.begin());
  }
  friend std::ostream& operator<<(std::ostream& out, const Shape& s) {
    out << '(';
    for (int d = 0; d < s.rank_; ++d) out << (d ? ", " : "") << s.dims_[d];
    return out << (s.rank_ == 1 ? ",)" : ")");
  }

 private:
  std::array<index_t, max_dims> dims_{};
  int rank_ = 0;
};

namespace detail {
struct AlignedFree {
  void operator()(void* p) const { std::free(p); }
};
}  // namespace detail

template <class T = float>
class Tensor {
 public:
  using value_type = T;
  static constexpr std::size_t alignment = 64;
  using Matrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  using MatrixMap = Eigen::Map<Matrix, Eigen::Aligned64>;
  using ConstMatrixMap = Eigen::Map<const Matrix, Eigen::Aligned64>;
  // For slices of a tensor (one sample of a batch), whose start need not be aligned.
  using SliceMap = Eigen::Map<Matrix>;
  using ConstSliceMap = Eigen::Map<const Matrix>;
  using Array = Eigen::Array<T, Eigen::Dynamic, 1>;
  using ArrayMap = Eigen::Map<Array, Eigen::Aligned64>;
  using ConstArrayMap = Eigen::Map<const Array, Eigen::Aligned64>;

  // An empty tensor, shape (0,), as torch.Tensor().
  Tensor() : shape_{0} {}
  // Zero-filled tensor of the given shape.
  explicit Tensor(const Shape& shape) { resize(shape); }
  Tensor(std::initializer_list<index_t> dims) : Tensor(Shape(dims)) {}

  Tensor(const Tensor& other) { *this = other; }
  Tensor& operator=(const Tensor& other) {
    if (this != &other) {
      resize_uninitialized(other.shape_);
      std::copy_n(other.data_, numel(), data_);
    }
    return *this;
  }
  Tensor(Tensor&& other) noexcept : shape_{0} { swap(other); }
  Tensor& operator=(Tensor&& other) noexcept {
    swap(other);
    return *this;
  }
  void swap(Tensor& other) noexcept {
    std::swap(storage_, other.storage_);
    std::swap(capacity_, other.capacity_);
    std::swap(data_, other.data_);
    std::swap(shape_, other.shape_);
  }

  // A tensor that views memory it does not own (no copy). The memory must outlive the view
  // and be 64-byte aligned (every Tensor's data() is).
  static Tensor view(const T* data, const Shape& shape) {
    detail::check(reinterpret_cast<std::uintptr_t>(data) % alignment == 0,
                  "Tensor::view: data must be ", alignment, "-byte aligned");
    Tensor t;
    t.data_ = const_cast<T*>(data);  // views never write through a const source: they are returned as const
    t.shape_ = shape;
    return t;
  }

  const Shape& shape() const { return shape_; }
  int dim() const { return shape_.dim(); }
  index_t size(int d) const {
    const int r = dim();
    const int i = d < 0 ? d + r : d;
    detail::check(i >= 0 && i < r, "Tensor::size: dimension ", d, " is out of range for shape ", shape_);
    return shape_[i];
  }
  index_t numel() const { return shape_.numel(); }
  bool empty() const { return numel() == 0; }
  T* data() { return data_; }
  const T* data() const { return data_; }
  bool owns_data() const { return data_ == nullptr || data_ == storage_.get(); }

  // Element access with bounds checks: t(n, c, h, w).
  template <class... I>
  T& operator()(I... i) {
    return data_[offset(static_cast<index_t>(i)...)];
  }
  template <class... I>
  const T& operator()(I... i) const {
    return data_[offset(static_cast<index_t>(i)...)];
  }

  // Gives the tensor this shape. Reuses its storage when it is large enough, so a layer
  // that calls this every step allocates only the first time. Contents are unspecified.
  void resize_uninitialized(const Shape& shape) {
    const index_t n = shape.numel();
    if (!owns_data() || n > capacity_) {
      if (n > capacity_ || !storage_) allocate(n);
      data_ = storage_.get();
    }
    shape_ = shape;
  }
  // Same, zero-filled.
  void resize(const Shape& shape) {
    resize_uninitialized(shape);
    zero();
  }
  void zero() { fill(T(0)); }
  void fill(T value) { std::fill_n(data_, numel(), value); }

  // Same data, another shape of the same numel (no copy). The view must not outlive this
  // tensor, so reshaping a temporary does not compile.
  Tensor reshape(const Shape& shape) const& {
    detail::check(shape.numel() == numel(), "Tensor::reshape: cannot view shape ", shape_, " as ", shape);
    return view(data_, shape);
  }
  Tensor reshape(const Shape& shape) && = delete;

  // The tensor as a (size(0), numel / size(0)) row-major matrix; a 1-d tensor is one row.
  MatrixMap matrix() { return MatrixMap(data_, rows(), cols()); }
  ConstMatrixMap matrix() const { return ConstMatrixMap(data_, rows(), cols()); }
  // All elements as a flat Eigen array (element-wise math).
  ArrayMap array() { return ArrayMap(data_, numel()); }
  ConstArrayMap array() const { return ConstArrayMap(data_, numel()); }

 private:
  index_t rows() const { return dim() <= 1 ? 1 : shape_[0]; }
  index_t cols() const { return dim() <= 1 ? numel() : (shape_[0] ? numel() / shape_[0] : 0); }

  void allocate(index_t n) {
    const std::size_t bytes = (static_cast<std::size_t>(std::max<index_t>(n, 1)) * sizeof(T) + alignment - 1) /
                              alignment * alignment;
    void* p = std::aligned_alloc(alignment, bytes);
    if (!p) throw std::bad_alloc();
    storage_.reset(static_cast<T*>(p));
    capacity_ = n;
  }

  template <class... I>
  index_t offset(I... i) const {
    constexpr int n = sizeof...(I);
    detail::check(n == dim(), "Tensor: indexed with ", n, " indices, but its shape is ", shape_);
    const index_t idx[] = {i...};
    index_t off = 0;
    for (int d = 0; d < n; ++d) {
      detail::check(idx[d] >= 0 && idx[d] < shape_[d], "Tensor: index ", idx[d], " is out of range for dimension ",
                    d, " of shape ", shape_);
      off = off * shape_[d] + idx[d];
    }
    return off;
  }

  std::unique_ptr<T[], detail::AlignedFree> storage_;
  index_t capacity_ = 0;
  T* data_ = nullptr;
  Shape shape_;
};

template <class T>
std::ostream& operator<<(std::ostream& out, const Tensor<T>& t) {
  out << "Tensor" << t.shape() << " [";
  const index_t n = std::min<index_t>(t.numel(), 8);
  for (index_t i = 0; i < n; ++i) out << (i ? ", " : "") << t.data()[i];
  return out << (t.numel() > n ? ", ...]" : "]");
}

}  // namespace ember

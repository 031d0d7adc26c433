// Tensor<T>: up to 4-d (NCHW), contiguous, 64-byte-aligned row-major storage,
// with zero-copy Eigen maps for matrix work.
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <memory>
#include <new>
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
// Every allocation of a tensor starts with this block; the data follows `alignment` bytes later.
// The version counts writes to the memory (PyTorch's version counter): a layer that keeps a
// tensor for backward() records its version in forward() and refuses a changed one.
struct TensorControl {
  std::atomic<std::uint64_t> version{0};
};
}  // namespace detail

// Tensor<T>: an owning tensor, or a view of memory it does not own. The rules:
//   - Tensor(shape), copies, and copies of views own their memory (a copy is always deep).
//   - reshape() and Tensor::view() make views. A view of a tensor shares its memory and its
//     version counter; writing into a view writes the memory it views. resize() of a view to
//     another element count is an error (it never silently detaches).
//   - A view of const data (reshape() of a const tensor, view(const T*, ...)) is read-only:
//     any non-const access to it throws.
//   - Every non-const access (data(), t(i, j), matrix(), array(), fill, resize, assignment)
//     counts as a write and bumps the version, since C++ cannot tell a read through a non-const
//     reference from a write. Read through a const reference between forward and backward.
template <class T = float>
class Tensor {
 public:
  using value_type = T;
  static constexpr std::size_t alignment = 64;
  static_assert(sizeof(detail::TensorControl) <= alignment);
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

  // A copy owns its memory, also when `other` is a view.
  Tensor(const Tensor& other) : shape_{0} {
    resize_uninitialized(other.shape_);
    std::copy_n(other.data_, numel(), data_);
  }
  // Copies the elements. Into a view: writes the viewed memory (the element counts must match).
  Tensor& operator=(const Tensor& other) {
    if (this != &other) {
      if (is_view()) {
        reshape_view(other.shape_, "operator=");
        std::copy_n(other.data_, numel(), data());
      } else {
        resize_uninitialized(other.shape_);
        std::copy_n(other.data_, numel(), data_);
      }
    }
    return *this;
  }
  // Moves take the other's memory (its storage, or what it views); the other becomes empty.
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
    std::swap(control_, other.control_);
    std::swap(view_, other.view_);
    std::swap(read_only_, other.read_only_);
  }

  // A view of memory the tensor does not own (no copy): the memory must outlive the view and be
  // 64-byte aligned (every Tensor's data() is). ember sees no version of raw memory.
  static Tensor view(T* data, const Shape& shape) { return make_view(data, shape, nullptr, false); }
  // The same of const memory: a read-only view.
  static Tensor view(const T* data, const Shape& shape) {
    return make_view(const_cast<T*>(data), shape, nullptr, true);
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
  // The value of a one-element tensor (a 0-d one, a loss, num_batches_tracked), as torch's item().
  T item() const {
    detail::check(numel() == 1, "Tensor::item: the tensor has ", numel(), " elements (shape ", shape_,
                  "); item() reads a tensor of one element");
    return data_[0];
  }
  // Non-const access counts as a write (see the rules above).
  T* data() {
    detail::check(!read_only_, "Tensor: writing into a read-only view (a view of const data) of shape ", shape_);
    bump();
    return data_;
  }
  const T* data() const { return data_; }
  bool owns_data() const { return !view_; }
  bool is_view() const { return view_; }
  bool is_read_only() const { return read_only_; }
  // Writes to this tensor's memory so far (shared with its views); 0 for raw views.
  std::uint64_t version() const { return control_ ? control_->version.load(std::memory_order_relaxed) : 0; }
  // Identifies the memory's version counter: two tensors with the same id share it.
  const void* version_id() const { return control_; }

  // Element access with bounds checks: t(n, c, h, w).
  template <class... I>
  T& operator()(I... i) {
    return data()[offset(static_cast<index_t>(i)...)];
  }
  template <class... I>
  const T& operator()(I... i) const {
    return data_[offset(static_cast<index_t>(i)...)];
  }

  // Gives the tensor this shape. Reuses its storage when it is large enough, so a layer
  // that calls this every step allocates only the first time. Contents are unspecified.
  // A view keeps viewing its memory: only a shape of the same element count is allowed.
  void resize_uninitialized(const Shape& shape) {
    if (view_) {
      reshape_view(shape, "resize");
      bump();
      return;
    }
    const index_t n = shape.numel();
    if (n > capacity_ || !storage_) allocate(n);
    shape_ = shape;
    bump();
  }
  // Same, zero-filled.
  void resize(const Shape& shape) {
    resize_uninitialized(shape);
    zero();
  }
  void zero() { fill(T(0)); }
  void fill(T value) { std::fill_n(data(), numel(), value); }

  // Same data, another shape of the same numel (no copy): a view that shares this tensor's
  // memory and version counter, read-only when this tensor is const. The view must not outlive
  // this tensor, so reshaping a temporary does not compile.
  Tensor reshape(const Shape& shape) & { return reshaped(shape, read_only_); }
  Tensor reshape(const Shape& shape) const& { return reshaped(shape, true); }
  Tensor reshape(const Shape& shape) && = delete;

  // The tensor as a (size(0), numel / size(0)) row-major matrix; a 1-d tensor is one row.
  MatrixMap matrix() { return MatrixMap(data(), rows(), cols()); }
  ConstMatrixMap matrix() const { return ConstMatrixMap(data_, rows(), cols()); }
  // All elements as a flat Eigen array (element-wise math).
  ArrayMap array() { return ArrayMap(data(), numel()); }
  ConstArrayMap array() const { return ConstArrayMap(data_, numel()); }

 private:
  index_t rows() const { return dim() <= 1 ? 1 : shape_[0]; }
  index_t cols() const { return dim() <= 1 ? numel() : (shape_[0] ? numel() / shape_[0] : 0); }

  void bump() {
    if (control_) control_->version.fetch_add(1, std::memory_order_relaxed);
  }

  static Tensor make_view(T* data, const Shape& shape, detail::TensorControl* control, bool read_only) {
    detail::check(reinterpret_cast<std::uintptr_t>(data) % alignment == 0, "Tensor::view: data must be ", alignment,
                  "-byte aligned");
    Tensor t;
    t.data_ = data;
    t.shape_ = shape;
    t.control_ = control;
    t.view_ = true;
    t.read_only_ = read_only;
    return t;
  }
  Tensor reshaped(const Shape& shape, bool read_only) const {
    detail::check(shape.numel() == numel(), "Tensor::reshape: cannot view shape ", shape_, " as ", shape);
    return make_view(data_, shape, control_, read_only);
  }
  void reshape_view(const Shape& shape, const char* what) {
    detail::check(shape.numel() == numel(), "Tensor::", what, ": this tensor is a view of ", numel(),
                  " elements (shape ", shape_, ") and cannot hold shape ", shape,
                  "; a view never detaches from the memory it views (copy it into a Tensor of its own first)");
    detail::check(!read_only_, "Tensor::", what, ": writing into a read-only view (a view of const data) of shape ",
                  shape_);
    shape_ = shape;
  }

  // Storage: the control block, then the data `alignment` bytes later. A new allocation's
  // version goes on from the old one's, so a recorded version never repeats.
  void allocate(index_t n) {
    const std::size_t bytes = alignment + (static_cast<std::size_t>(std::max<index_t>(n, 1)) * sizeof(T) + alignment - 1) /
                                              alignment * alignment;
    void* p = std::aligned_alloc(alignment, bytes);
    if (!p) throw std::bad_alloc();
    const std::uint64_t version = this->version() + 1;
    auto* control = ::new (p) detail::TensorControl;
    control->version.store(version, std::memory_order_relaxed);
    if (storage_) control_->~TensorControl();
    storage_.reset(static_cast<char*>(p));
    control_ = control;
    data_ = reinterpret_cast<T*>(static_cast<char*>(p) + alignment);
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

  std::unique_ptr<char[], detail::AlignedFree> storage_;  // control block + data, when owning
  index_t capacity_ = 0;
  T* data_ = nullptr;
  Shape shape_;
  detail::TensorControl* control_ = nullptr;  // version counter: in storage_, or the viewed tensor's
  bool view_ = false;
  bool read_only_ = false;
};

template <class T>
std::ostream& operator<<(std::ostream& out, const Tensor<T>& t) {
  out << "Tensor" << t.shape() << " [";
  const index_t n = std::min<index_t>(t.numel(), 8);
  for (index_t i = 0; i < n; ++i) out << (i ? ", " : "") << t.data()[i];
  return out << (t.numel() > n ? ", ...]" : "]");
}

}  // namespace ember

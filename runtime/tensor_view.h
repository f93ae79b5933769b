// A read-only view of host data as a tensor: data pointer, dtype and shape, no copy. Feeds of a
// compiled step can come straight from a std::vector, a std::span or an Eigen matrix.
//
//   std::vector<float> x(32 * 100);
//   step.run({{"x", sj::TensorView(x, {32, 100})}, {"y", sj::TensorView(y_matrix)}});
#pragma once

#include "graph/error.h"
#include "graph/tensor.h"

#include <Eigen/Core>
#include <fmt/format.h>
#include <source_location>
#include <span>
#include <vector>

namespace sj {

class TensorView {
public:
  /// A whole Tensor.
  TensorView(const Tensor& t) : type_(t.type()), data_(t.bytes().data()) {}

  /// `data` laid out row-major as `shape`; its size must be the shape's element count.
  template <typename T>
  TensorView(std::span<const T> data, Shape shape,
             std::source_location loc = std::source_location::current())
      : type_{dtype_of<std::remove_const_t<T>>(), std::move(shape)}, data_(data.data()) {
    check_count(data.size(), Location::here(loc));
  }
  template <typename T>
  TensorView(const std::vector<T>& data, Shape shape,
             std::source_location loc = std::source_location::current())
      : TensorView(std::span<const T>(data), std::move(shape), loc) {}

  /// An Eigen matrix or vector, as [rows, cols] (a vector as [size]). A column-major matrix
  /// with more than one column and row is rejected: its memory is not row-major.
  template <typename Derived>
  TensorView(const Eigen::PlainObjectBase<Derived>& m,
             std::source_location loc = std::source_location::current())
      : type_{dtype_of<typename Derived::Scalar>(),
              Derived::IsVectorAtCompileTime ? Shape{m.size()} : Shape{m.rows(), m.cols()}},
        data_(m.data()) {
    if (!Derived::IsVectorAtCompileTime && !Derived::IsRowMajor && m.rows() > 1 && m.cols() > 1)
      throw Error(Location::here(loc),
                  fmt::format("TensorView: a column-major {}x{} Eigen matrix is not row-major "
                              "memory; use Eigen::Matrix<..., Eigen::RowMajor> or transpose it",
                              m.rows(), m.cols()));
  }

  const TensorType& type() const { return type_; }
  const void* data() const { return data_; }

private:
  void check_count(size_t count, const Location& loc) const {
    auto want = checked_num_elements(type_.shape);
    if (!want || static_cast<size_t>(*want) != count)
      throw Error(loc, fmt::format("TensorView: {} elements do not fill the shape {} ({} "
                                   "elements)",
                                   count, shape_str(type_.shape), want ? *want : -1));
  }

  TensorType type_;
  const void* data_;
};

} // namespace sj

// A dense, owned, row-major host tensor: constant values, interpreter values, feeds, .npy data.
#pragma once

#include "graph/error.h"
#include "graph/types.h"

#include <cstring>
#include <source_location>
#include <span>
#include <vector>

namespace sj {

class Tensor {
public:
  Tensor() = default;
  /// A zero-filled tensor of the given type.
  explicit Tensor(TensorType type);

  /// A tensor of `shape` holding `values` in row-major order (an sj::Error at the caller's line
  /// if their count is not the shape's).
  template <typename T>
  static Tensor from(Shape shape, const std::vector<T>& values,
                     std::source_location loc = std::source_location::current()) {
    if constexpr (std::is_same_v<T, bool>) {
      return from_bool(std::move(shape), values, loc);
    } else {
      Tensor t({dtype_of<T>(), std::move(shape)});
      if (static_cast<int64_t>(values.size()) != t.num_elements())
        count_mismatch(t.type(), values.size(), loc);
      if (!values.empty()) std::memcpy(t.data_.data(), values.data(), values.size() * sizeof(T));
      return t;
    }
  }
  template <typename T>
  static Tensor scalar(T value) {
    return from<T>({}, std::vector<T>{value});
  }
  static Tensor from_bool(Shape shape, const std::vector<bool>& values,
                          std::source_location loc = std::source_location::current());

  const TensorType& type() const { return type_; }
  DType dtype() const { return type_.dtype; }
  const Shape& shape() const { return type_.shape; }
  int rank() const { return type_.rank(); }
  int64_t num_elements() const { return type_.num_elements(); }

  /// Typed element access; T must match dtype(): a mismatch is an sj::Error at the caller's
  /// line naming both types.
  template <typename T>
  T* data(std::source_location loc = std::source_location::current()) {
    check_dtype(dtype_of<T>(), "data", loc);
    return reinterpret_cast<T*>(data_.data());
  }
  template <typename T>
  const T* data(std::source_location loc = std::source_location::current()) const {
    check_dtype(dtype_of<T>(), "data", loc);
    return reinterpret_cast<const T*>(data_.data());
  }
  template <typename T>
  std::span<const T> values(std::source_location loc = std::source_location::current()) const {
    check_dtype(dtype_of<T>(), "values", loc);
    return {reinterpret_cast<const T*>(data_.data()), static_cast<size_t>(num_elements())};
  }
  std::span<std::byte> bytes() { return data_; }
  std::span<const std::byte> bytes() const { return data_; }

  /// Element i (row-major) converted to double: for printing and tests.
  double as_double(int64_t i) const;
  /// Element i converted to int64 (floats truncate): for indices and tests.
  int64_t as_int64(int64_t i) const;

  /// Same type and bit-identical data.
  bool operator==(const Tensor& other) const {
    return type_ == other.type_ && data_ == other.data_;
  }

private:
  void check_dtype(DType t, const char* accessor, const std::source_location& loc) const {
    if (t != type_.dtype) dtype_mismatch(t, accessor, loc);
  }
  [[noreturn]] void dtype_mismatch(DType asked, const char* accessor,
                                   const std::source_location& loc) const;
  [[noreturn]] static void count_mismatch(const TensorType& type, size_t count,
                                          const std::source_location& loc);

  TensorType type_;
  std::vector<std::byte> data_;
};

} // namespace sj

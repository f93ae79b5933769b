#include "graph/tensor.h"

#include <cmath>
#include <fmt/format.h>

namespace sj {

Tensor::Tensor(TensorType type) : type_(std::move(type)), data_(type_.byte_size()) {}

namespace {

// The C++ element type of a dtype, as a user writes it in data<T>().
const char* cpp_type(DType t) {
  switch (t) {
  case DType::f32:
    return "float";
  case DType::f64:
    return "double";
  case DType::i32:
    return "int32_t";
  case DType::i64:
    return "int64_t";
  case DType::boolean:
    return "bool";
  }
  return "?";
}

} // namespace

void Tensor::dtype_mismatch(DType asked, const char* accessor,
                            const std::source_location& loc) const {
  throw Error(Location::here(loc),
              fmt::format("Tensor::{}<{}>(): the tensor is {}, and the element type must be "
                          "the tensor's (use {}<{}>(), or convert the values first)",
                          accessor, cpp_type(asked), type_.str(), accessor, cpp_type(type_.dtype)));
}

void Tensor::count_mismatch(const TensorType& type, size_t count, const std::source_location& loc) {
  throw Error(Location::here(loc),
              fmt::format("Tensor::from: {} values for the type {}, which has {} elements", count,
                          type.str(), type.num_elements()));
}

Tensor Tensor::from_bool(Shape shape, const std::vector<bool>& values, std::source_location loc) {
  Tensor t({DType::boolean, std::move(shape)});
  if (static_cast<int64_t>(values.size()) != t.num_elements())
    count_mismatch(t.type(), values.size(), loc);
  bool* p = t.data<bool>();
  for (size_t i = 0; i < values.size(); ++i)
    p[i] = values[i];
  return t;
}

double Tensor::as_double(int64_t i) const {
  // Bools are read as bytes: a byte other than 0 or 1 must not be undefined behaviour.
  if (dtype() == DType::boolean) return data_.at(size_t(i)) != std::byte{0} ? 1.0 : 0.0;
  return visit_dtype(dtype(), [&]<typename T>() { return static_cast<double>(data<T>()[i]); });
}

int64_t Tensor::as_int64(int64_t i) const {
  if (dtype() == DType::i32) return data<int32_t>()[i];
  if (dtype() == DType::i64) return data<int64_t>()[i];
  // Floats truncate toward zero and saturate; NaN gives 0 (never undefined behaviour).
  double d = as_double(i);
  if (std::isnan(d)) return 0;
  if (d >= 0x1p63) return INT64_MAX;
  if (d < -0x1p63) return INT64_MIN;
  return static_cast<int64_t>(d);
}

} // namespace sj

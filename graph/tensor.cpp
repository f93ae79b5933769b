#include "graph/tensor.h"

#include <cmath>

namespace sj {

Tensor::Tensor(TensorType type) : type_(std::move(type)), data_(type_.byte_size()) {}

Tensor Tensor::from_bool(Shape shape, const std::vector<bool>& values) {
  Tensor t({DType::boolean, std::move(shape)});
  if (static_cast<int64_t>(values.size()) != t.num_elements())
    internal_error("Tensor::from_bool: value count does not match the shape");
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

#include "graph/tensor.h"

namespace sj {

Tensor::Tensor(TensorType type) : type_(std::move(type)), data_(type_.byte_size()) {}

Tensor Tensor::from_bool(Shape shape, const std::vector<bool>& values) {
  Tensor t({DType::boolean, std::move(shape)});
  if (static_cast<int64_t>(values.size()) != t.num_elements())
    internal_error("Tensor::from_bool: value count does not match the shape");
  bool* p = t.data<bool>();
  for (size_t i = 0; i < values.size(); ++i) p[i] = values[i];
  return t;
}

double Tensor::as_double(int64_t i) const {
  return visit_dtype(dtype(), [&]<typename T>() { return static_cast<double>(data<T>()[i]); });
}

int64_t Tensor::as_int64(int64_t i) const {
  return visit_dtype(dtype(), [&]<typename T>() { return static_cast<int64_t>(data<T>()[i]); });
}

} // namespace sj

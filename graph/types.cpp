#include "graph/types.h"

#include <algorithm>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <limits>

namespace sj {

std::string_view dtype_name(DType t) {
  switch (t) {
  case DType::f32:
    return "f32";
  case DType::f64:
    return "f64";
  case DType::i32:
    return "i32";
  case DType::i64:
    return "i64";
  case DType::boolean:
    return "bool";
  }
  return "?";
}

std::optional<DType> parse_dtype(std::string_view name) {
  for (DType t : kAllDTypes)
    if (dtype_name(t) == name) return t;
  return std::nullopt;
}

size_t dtype_size(DType t) {
  return visit_dtype(t, []<typename T>() { return sizeof(T); });
}

std::optional<int64_t> checked_num_elements(const Shape& shape) {
  int64_t extent = 1;
  bool empty = false;
  for (int64_t d : shape) {
    if (d < 0) return std::nullopt;
    empty = empty || d == 0;
    auto next = checked_mul(extent, std::max<int64_t>(d, 1));
    if (!next) return std::nullopt;
    extent = *next;
  }
  return empty ? 0 : extent;
}

std::string shape_limit_reason(const Shape& shape) {
  for (int64_t d : shape)
    if (d < 0) return "has a negative dimension";
  for (int64_t d : shape)
    if (d == 0)
      return "has no elements, but its other dimensions multiply to more than 2^40 (strides "
             "and indices must stay below 2^40 too)";
  return "has more than 2^40 elements";
}

std::optional<int64_t> checked_add(int64_t a, int64_t b, int64_t limit) {
  if (a < 0 || b < 0 || a > limit - b) return std::nullopt;
  return a + b;
}

std::optional<int64_t> checked_mul(int64_t a, int64_t b, int64_t limit) {
  if (a < 0 || b < 0 || (b != 0 && a > limit / b)) return std::nullopt;
  return a * b;
}

int64_t saturating_mul(int64_t a, int64_t b) {
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  return checked_mul(a, b, kMax).value_or(kMax);
}

int64_t num_elements(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  return n;
}

std::string shape_str(const Shape& shape) { return fmt::format("[{}]", fmt::join(shape, ",")); }

std::string TensorType::str() const {
  return fmt::format("{}{}", dtype_name(dtype), shape_str(shape));
}

} // namespace sj

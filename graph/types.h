// Element types and static tensor types: the `f32[32,100]` of the text form.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sj {

/// Element type of a tensor. `boolean` prints as `bool`.
enum class DType : uint8_t { f32, f64, i32, i64, boolean };

inline constexpr DType kAllDTypes[] = {DType::f32, DType::f64, DType::i32, DType::i64,
                                       DType::boolean};

std::string_view dtype_name(DType t);
std::optional<DType> parse_dtype(std::string_view name);
size_t dtype_size(DType t);
inline bool is_float(DType t) { return t == DType::f32 || t == DType::f64; }
inline bool is_int(DType t) { return t == DType::i32 || t == DType::i64; }
inline bool is_numeric(DType t) { return t != DType::boolean; }

/// Shapes are static: rank 0 (a scalar) to kMaxRank, every dimension >= 0.
inline constexpr int kMaxRank = 6;
/// Upper bound on the element count of one tensor (2^40), and on the product of its dimensions
/// with any 0 counted as 1 (its extent): keeps every byte count, stride and index representable
/// and rejects absurd shapes in untrusted text before anything is allocated.
inline constexpr int64_t kMaxElements = int64_t{1} << 40;

using Shape = std::vector<int64_t>;

/// The element count, or nullopt when a dimension is negative or the shape's extent (the
/// product of its dimensions, a 0 counted as 1) exceeds kMaxElements. So [0, 2^40, 2^40] is
/// refused like [1, 2^40, 2^40]: its strides would overflow although it has no elements.
std::optional<int64_t> checked_num_elements(const Shape& shape);
/// Why checked_num_elements refuses `shape`, for messages: "has a negative dimension",
/// "has more than 2^40 elements", or the same for its extent when a dimension is 0.
std::string shape_limit_reason(const Shape& shape);

/// Shape arithmetic: a + b and a * b of non-negative counts (dimensions, element counts, loop
/// trip counts), or nullopt when the result exceeds `limit`; never overflows.
std::optional<int64_t> checked_add(int64_t a, int64_t b, int64_t limit = kMaxElements);
std::optional<int64_t> checked_mul(int64_t a, int64_t b, int64_t limit = kMaxElements);
/// a * b of non-negative counts, saturating at INT64_MAX: for costs compared against limits.
int64_t saturating_mul(int64_t a, int64_t b);
/// The element count of a shape already known to be valid.
int64_t num_elements(const Shape& shape);
/// `[32,100]`.
std::string shape_str(const Shape& shape);

/// A value's static type: element type and shape.
struct TensorType {
  DType dtype = DType::f32;
  Shape shape;

  int rank() const { return static_cast<int>(shape.size()); }
  int64_t num_elements() const { return sj::num_elements(shape); }
  size_t byte_size() const { return static_cast<size_t>(num_elements()) * dtype_size(dtype); }
  /// `f32[32,100]`; a scalar is `f32[]`.
  std::string str() const;
  bool operator==(const TensorType&) const = default;
};

/// Calls `f.template operator()<T>()` with the C++ element type of `t` (bool for `boolean`).
template <typename F>
decltype(auto) visit_dtype(DType t, F&& f) {
  switch (t) {
  case DType::f32:
    return f.template operator()<float>();
  case DType::f64:
    return f.template operator()<double>();
  case DType::i32:
    return f.template operator()<int32_t>();
  case DType::i64:
    return f.template operator()<int64_t>();
  case DType::boolean:
    return f.template operator()<bool>();
  }
  __builtin_unreachable();
}

/// The DType of a C++ element type.
template <typename T>
constexpr DType dtype_of();
template <>
constexpr DType dtype_of<float>() {
  return DType::f32;
}
template <>
constexpr DType dtype_of<double>() {
  return DType::f64;
}
template <>
constexpr DType dtype_of<int32_t>() {
  return DType::i32;
}
template <>
constexpr DType dtype_of<int64_t>() {
  return DType::i64;
}
template <>
constexpr DType dtype_of<bool>() {
  return DType::boolean;
}

} // namespace sj

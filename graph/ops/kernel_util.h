// Helpers shared by the interpreter kernels (eval_*) of graph/ops/*.cpp: dtype dispatch, index
// mapping (broadcasting, strides), elementwise maps, exact conversions and careful sums.
//
// Numeric conventions of every kernel (the reference semantics compiled code is tested against):
// - float arithmetic is done in double and rounded once to the dtype at the end, so f32 + - * /
//   and sqrt give the correctly rounded f32 result, and other functions are within an ulp;
// - integer arithmetic wraps modulo 2^bits (two's complement), never undefined behaviour;
// - bool elements are read as "byte != 0", whatever bytes a feed holds.
#pragma once

#include "graph/op_table.h"
#include "graph/tensor.h"

#include <cmath>
#include <concepts>
#include <limits>
#include <span>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace sj::ops {

// ---- dtype dispatch ------------------------------------------------------------------------

/// visit_dtype restricted to f32/f64: other dtypes are a bug (the shape rule rejected them).
template <typename F>
decltype(auto) visit_float(DType t, F&& f) {
  switch (t) {
  case DType::f32:
    return f.template operator()<float>();
  case DType::f64:
    return f.template operator()<double>();
  default:
    internal_error("visit_float: not a floating-point dtype");
  }
}

/// visit_dtype restricted to f32/f64/i32/i64: bool is a bug (the shape rule rejected it).
template <typename F>
decltype(auto) visit_numeric(DType t, F&& f) {
  switch (t) {
  case DType::f32:
    return f.template operator()<float>();
  case DType::f64:
    return f.template operator()<double>();
  case DType::i32:
    return f.template operator()<int32_t>();
  case DType::i64:
    return f.template operator()<int64_t>();
  default:
    internal_error("visit_numeric: bool is not numeric");
  }
}

/// The type arithmetic on T is done in: double for floats (rounded once to T afterwards), the
/// unsigned twin for integers (so overflow wraps modulo 2^bits; converting back is modular).
template <typename T>
struct ArithOf {
  using type = std::make_unsigned_t<T>;
};
template <std::floating_point T>
struct ArithOf<T> {
  using type = double;
};
template <typename T>
using Arith = typename ArithOf<T>::type;

// ---- elements ------------------------------------------------------------------------------

/// Element i of x as a T (T must be x's element type). A bool is read as its byte != 0, so a
/// feed holding other bytes than 0 and 1 cannot cause undefined behaviour.
template <typename T>
T element(const Tensor& x, int64_t i) {
  if constexpr (std::is_same_v<T, bool>) {
    SJ_ASSERT(x.dtype() == DType::boolean);
    return x.bytes()[static_cast<size_t>(i)] != std::byte{0};
  } else {
    return x.data<T>()[i];
  }
}

/// Copies element `from` of x into element `to` of out (same dtype).
void copy_element(Tensor& out, int64_t to, const Tensor& x, int64_t from);

/// Converts one element as cast does: float to int truncates toward zero and saturates to the
/// int range (NaN gives 0); anything to bool is x != 0 (NaN gives true); bool gives 0 or 1;
/// int to narrower int wraps modulo 2^bits; to float rounds to nearest.
template <typename To, typename From>
To convert(From x) {
  if constexpr (std::is_same_v<To, bool>) {
    return x != From(0);
  } else if constexpr (std::is_floating_point_v<From> && std::is_integral_v<To>) {
    if (std::isnan(x)) return 0;
    // -2^(bits-1) and 2^(bits-1) are exact in every float type, unlike the int maximum.
    constexpr From lowest = static_cast<From>(std::numeric_limits<To>::min());
    if (x < lowest) return std::numeric_limits<To>::min();
    if (x >= -lowest) return std::numeric_limits<To>::max();
    return static_cast<To>(x); // in range: truncates toward zero
  } else {
    return static_cast<To>(x);
  }
}

/// max(a, b) that propagates NaN and orders -0 below +0, so it does not depend on the operand
/// order (IEEE 754-2019 maximum, llvm.maximum).
template <typename T>
T maximum_of(T a, T b) {
  if constexpr (std::is_floating_point_v<T>) {
    if (std::isnan(a)) return a;
    if (std::isnan(b)) return b;
    if (a == b) return std::signbit(a) ? b : a;
  }
  return a > b ? a : b;
}

/// min(a, b) that propagates NaN and orders -0 below +0 (IEEE 754-2019 minimum).
template <typename T>
T minimum_of(T a, T b) {
  if constexpr (std::is_floating_point_v<T>) {
    if (std::isnan(a)) return a;
    if (std::isnan(b)) return b;
    if (a == b) return std::signbit(a) ? a : b;
  }
  return a < b ? a : b;
}

/// A sum of doubles with Neumaier's compensation: nearly exact whatever the order and count,
/// which makes the oracle more accurate than any compiled loop (even for f64). Infinities and
/// NaN propagate as in plain summation.
class Sum {
public:
  void add(double x) {
    double t = hi_ + x;
    // hi_ and x are finite whenever t is: recover the rounding error of the addition.
    if (std::isfinite(t)) lo_ += std::abs(hi_) >= std::abs(x) ? (hi_ - t) + x : (x - t) + hi_;
    hi_ = t;
  }
  double value() const { return std::isfinite(hi_) ? hi_ + lo_ : hi_; }

private:
  double hi_ = 0, lo_ = 0;
};

// ---- index mapping -------------------------------------------------------------------------

/// Row-major strides (in elements) of a shape.
std::vector<int64_t> strides_of(const Shape& shape);

/// Maps the row-major index of an element of `shape` to an element offset in a source tensor:
/// base + sum over d of index[d] * strides[d]. A stride of 0 repeats the source along that
/// dimension (broadcast), permuted strides transpose, a base offset selects a box (slice).
class IndexMap {
public:
  IndexMap(Shape shape, std::vector<int64_t> strides, int64_t base = 0);
  int64_t operator()(int64_t index) const;

private:
  Shape shape_;
  std::vector<int64_t> strides_;
  int64_t base_;
};

/// The map from an element of `to` to the element of `from` that NumPy broadcasting reads.
IndexMap broadcast_map(const Shape& from, const Shape& to);

/// A tensor of `type` (x's dtype) whose element i is x's element map(i).
Tensor copy_elements(const Tensor& x, const TensorType& type, const IndexMap& map);

/// The rows of `shape` along `axis`: calls f(first, stride) for each of the
/// prod(shape[:axis]) * prod(shape[axis+1:]) rows of shape[axis] elements, where element k of a
/// row is at first + k * stride. A shape without elements has no rows (not 2^40 empty ones).
template <typename F>
void for_each_row(const Shape& shape, int axis, F f) {
  if (num_elements(shape) == 0) return;
  int64_t outer = 1, inner = 1;
  for (int d = 0; d < axis; ++d)
    outer *= shape[d];
  for (size_t d = axis + 1; d < shape.size(); ++d)
    inner *= shape[d];
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < inner; ++i)
      f(o * shape[axis] * inner + i, inner);
}

/// An axis the shape rule has checked, mapped into [0, rank).
int axis_index(int64_t axis, int rank);

/// `[1, 2]`: the position of row-major element `index` in `shape`, for messages.
std::string position_str(const Shape& shape, int64_t index);

// ---- elementwise maps ----------------------------------------------------------------------

/// out[i] = f(args[0][..], args[1][..], ...) for every element i of `type`, each operand read
/// through NumPy broadcasting. In... are the operands' element types, Out the result's.
template <typename Out, typename... In, typename F>
Tensor map_elements(const TensorType& type, std::span<const Tensor* const> args, F f) {
  SJ_ASSERT(args.size() == sizeof...(In));
  std::vector<IndexMap> maps;
  for (const Tensor* a : args)
    maps.push_back(broadcast_map(a->shape(), type.shape));
  Tensor out(type);
  Out* o = out.data<Out>();
  for (int64_t i = 0; i < out.num_elements(); ++i) {
    o[i] = [&]<size_t... k>(std::index_sequence<k...>) {
      return static_cast<Out>(f(element<In>(*args[k], maps[k](i))...));
    }
    (std::index_sequence_for<In...>{});
  }
  return out;
}

} // namespace sj::ops

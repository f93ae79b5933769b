// Helpers for the interpreter's tests: build a graph with the frontend, run it, and compare
// with values computed by hand or by an independent formula in double.
//
// Naming convention (checked by op_coverage_test): the tests of op `reduce_sum` live in the
// test suite `ReduceSum` (the op name in PascalCase), in some tests/runtime/*_test.cpp.
#pragma once

#include "graph/builder.h"
#include "runtime/interpreter.h"

#include <cmath>
#include <gtest/gtest.h>
#include <limits>
#include <map>
#include <string>
#include <vector>

namespace sj::test {

inline constexpr DType kFloatTypes[] = {DType::f32, DType::f64};
inline constexpr DType kIntTypes[] = {DType::i32, DType::i64};

inline constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
inline constexpr double kInf = std::numeric_limits<double>::infinity();

/// A tensor of any dtype holding `values` (row-major), each converted from double.
inline Tensor tensor(DType dtype, Shape shape, const std::vector<double>& values) {
  Tensor t({dtype, std::move(shape)});
  EXPECT_EQ(static_cast<int64_t>(values.size()), t.num_elements()) << "bad test data";
  visit_dtype(dtype, [&]<typename T>() {
    for (size_t i = 0; i < values.size() && int64_t(i) < t.num_elements(); ++i)
      t.data<T>()[i] = static_cast<T>(values[i]);
  });
  return t;
}

/// A constant node of any dtype holding `values`.
inline Value lit(Graph& g, DType dtype, Shape shape, const std::vector<double>& values) {
  return constant(g, tensor(dtype, std::move(shape), values));
}

/// Runs (a copy of) v's graph with v as its one output and returns v's value.
inline Tensor eval(Value v, const std::map<std::string, Tensor>& feeds = {}) {
  Graph g = v.graph();
  g.add_output("result", v.id());
  Interpreter interpreter(std::move(g));
  return interpreter.run(feeds).at("result");
}

/// Relative tolerance for a kernel result against an expected value computed in double: the
/// kernels round once to the dtype, so f32 is within about an ulp; f64 allows the test's own
/// formula a few ulps.
inline double tolerance(DType t) { return t == DType::f32 ? 1.2e-7 : 1e-14; }

/// True when `actual` matches `expected` within relative tolerance `tol`: NaN matches NaN,
/// infinities and zeros must match exactly.
inline bool close(double actual, double expected, double tol) {
  if (std::isnan(expected) || std::isnan(actual)) return std::isnan(expected) && std::isnan(actual);
  if (std::isinf(expected) || std::isinf(actual)) return actual == expected;
  return std::abs(actual - expected) <= tol * std::abs(expected);
}

/// Expects `actual` to have type dtype[shape] and element values `expected` (row-major).
/// tol < 0 means tolerance(dtype); integers and bools must match exactly.
inline void expect_values(const Tensor& actual, DType dtype, const Shape& shape,
                          const std::vector<double>& expected, double tol = -1) {
  ASSERT_EQ(actual.type().str(), (TensorType{dtype, shape}.str()));
  ASSERT_EQ(static_cast<int64_t>(expected.size()), actual.num_elements()) << "bad test data";
  if (tol < 0) tol = is_float(dtype) ? tolerance(dtype) : 0;
  for (size_t i = 0; i < expected.size(); ++i) {
    double a = actual.as_double(static_cast<int64_t>(i));
    EXPECT_TRUE(close(a, expected[i], tol)) << "element " << i << " of " << actual.type().str()
                                            << ": got " << a << ", expected " << expected[i];
  }
}

/// Expects exact integer values (i32/i64 results, compared as int64 without going through
/// double).
inline void expect_ints(const Tensor& actual, DType dtype, const Shape& shape,
                        const std::vector<int64_t>& expected) {
  ASSERT_EQ(actual.type().str(), (TensorType{dtype, shape}.str()));
  ASSERT_EQ(static_cast<int64_t>(expected.size()), actual.num_elements()) << "bad test data";
  for (size_t i = 0; i < expected.size(); ++i)
    EXPECT_EQ(actual.as_int64(static_cast<int64_t>(i)), expected[i]) << "element " << i;
}

/// Runs `f` and expects it to throw sj::Error whose message contains every one of `parts`.
template <typename F>
void expect_error(F f, const std::vector<std::string>& parts) {
  try {
    f();
    ADD_FAILURE() << "expected an sj::Error";
  } catch (const Error& e) {
    for (const std::string& p : parts)
      EXPECT_NE(std::string(e.what()).find(p), std::string::npos)
          << "message lacks \"" << p << "\": " << e.what();
  }
}

} // namespace sj::test

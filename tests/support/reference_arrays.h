// Comparing computed tensors with reference arrays from an independent implementation
// (the PyTorch references of tests/runtime/torch_reference.py and
// tests/frontend/torch_gpt_reference.py).
#pragma once

#include "graph/tensor.h"

#include <algorithm>
#include <cmath>
#include <gtest/gtest.h>
#include <string>

namespace sj::test {

/// `t` converted to the float dtype `dtype` (f32 or f64), element by element.
inline Tensor as_float(DType dtype, const Tensor& t) {
  Tensor out({dtype, t.shape()});
  for (int64_t i = 0; i < t.num_elements(); ++i) {
    if (dtype == DType::f32)
      out.data<float>()[i] = static_cast<float>(t.as_double(i));
    else
      out.data<double>()[i] = t.as_double(i);
  }
  return out;
}

/// Every element of `got` within tolerance x max(largest magnitude of `want`, floor) of `want`,
/// same shapes; `what` names the array in failures.
inline void expect_close(const Tensor& got, const Tensor& want, double tolerance,
                         const std::string& what, double floor = 1.0) {
  ASSERT_EQ(got.shape(), want.shape()) << what;
  double scale = floor;
  for (int64_t i = 0; i < want.num_elements(); ++i)
    scale = std::max(scale, std::abs(want.as_double(i)));
  for (int64_t i = 0; i < want.num_elements(); ++i)
    ASSERT_NEAR(got.as_double(i), want.as_double(i), tolerance * scale)
        << what << ", element " << i << " (largest magnitude " << scale << ")";
}

} // namespace sj::test

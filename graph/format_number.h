// Exact, shortest text for numbers: what the printer writes and the parser reads back.
#pragma once

#include "graph/tensor.h"

#include <string>

namespace sj {

/// Shortest decimal that reads back to the same double (`0.1`, `1e-07`, `inf`, `-inf`, `nan`);
/// integral values keep a `.0` so they read as reals.
std::string format_number(double v);
/// The same for a float: shortest text that reads back to the same float.
std::string format_number(float v);

/// A tensor's elements, row-major, as `[a, b, c]`; a tensor whose elements are all equal
/// prints as that one value (a splat), which the parser expands to the declared shape.
std::string format_tensor_values(const Tensor& t);

} // namespace sj

// Keras's Dense layer for the examples, until the model API (frontend/) provides one:
// x [batch, in] -> x W + b, with W [in, units] glorot_uniform and b zeros.
#pragma once

#include "graph/builder.h"

#include <string>

inline sj::Value dense(sj::Value x, int64_t units, const std::string& name, int64_t seed) {
  sj::Graph& g = x.graph();
  auto w = sj::variable(g, name + "/kernel", {sj::DType::f32, {x.shape()[1], units}},
                        sj::Init::glorot_uniform(seed));
  auto b = sj::variable(g, name + "/bias", {sj::DType::f32, {units}});
  return sj::matmul(x, w) + b;
}

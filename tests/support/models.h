// Small models built with the C++ builder, shared by several tests.
#pragma once

#include "graph/graph.h"

#include <cstdint>
#include <string>

namespace sj::test {

/// The seed tutorial's model, as examples/models/seed.sj writes it: Dense(100->10, relu),
/// Dense(10->1), MSE; Keras layouts (kernel [inputs, units], glorot_uniform), zero biases;
/// values `pred` and `loss` named, and output under those names.
Graph build_seed_model();

/// Writes `rows` examples for the seed model to DIR/x.npy (f32[rows,100], sin(0.37 i)) and
/// DIR/y.npy (f32[rows,1], cos(i)); `nan_at` >= 0 puts a NaN at that element of x.
void write_seed_data(const std::string& dir, int64_t rows, int64_t nan_at = -1);

} // namespace sj::test

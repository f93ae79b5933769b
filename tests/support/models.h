// Small models built with the C++ builder, shared by several tests.
#pragma once

#include "graph/graph.h"

namespace sj::test {

/// The seed tutorial's model, as examples/models/seed.sj writes it: Dense(100->10, relu),
/// Dense(10->1), MSE; Keras layouts (kernel [inputs, units], glorot_uniform), zero biases;
/// values `pred` and `loss` named, and output under those names.
Graph build_seed_model();

} // namespace sj::test

// Scheduling: the order in which a step computes its values.
#pragma once

#include "graph/graph.h"

namespace sj {

/// Returns `graph` with its nodes reordered (same nodes, names and outputs; operands before
/// users): every source (input, variable, constant) first, each scalar computation (a rank-0
/// value, such as Adam's bias corrections 1 - beta1^t) right after its operands, and everything
/// else in its original order. Scalars an optimizer computes between a weight gradient and
/// that weight's update then come before the gradient's matrix product, so the update loop
/// reads only values ready before the product and can run as its epilogue (passes/fuse.h).
/// The relative order of inputs and of variables (the step's calling convention) and of
/// assigns is kept.
Graph schedule(const Graph& graph);

} // namespace sj

// The C++ face of differentiation: TensorFlow's GradientTape.gradient(loss, vars), as a graph
// transformation. Gradients are values of the same graph, usable like any other.
//
//   auto grads = sj::gradients(loss, {w, b});   // d loss / d w, d loss / d b
#pragma once

#include "graph/builder.h"
#include "passes/differentiate.h"

#include <vector>

namespace sj {

/// d loss / d w for every w in `wrt`, appended to loss's graph (see differentiate()). Errors
/// (a non-scalar loss, an empty `wrt`, values the loss does not depend on) point at the caller.
std::vector<Value> gradients(Value loss, const std::vector<Value>& wrt,
                             const GradientOptions& options = {}, Loc loc = {});

/// Every variable of the graph, in graph order: the usual `wrt`.
std::vector<Value> all_variables(Graph& graph);

} // namespace sj

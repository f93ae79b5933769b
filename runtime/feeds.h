// Checking a step's feeds before anything runs: shared by the interpreter and compiled steps.
#pragma once

#include "graph/graph.h"
#include "graph/tensor.h"
#include "runtime/tensor_view.h"

#include <map>
#include <string>

namespace sj {

/// Throws sj::Error unless `feeds` holds exactly the graph's inputs, each with its declared
/// dtype and shape: missing and unknown names are listed together, with the expected types.
/// Feeds are Tensors or TensorViews.
template <typename Feed>
void check_feeds(const Graph& graph, const std::map<std::string, Feed>& feeds);

/// `'a', 'b'`, or `none`: names in messages.
std::string quoted(const std::vector<std::string>& names);

} // namespace sj

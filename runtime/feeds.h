// Checking a step's feeds before anything runs: shared by the interpreter and compiled steps.
#pragma once

#include "graph/graph.h"
#include "graph/tensor.h"

#include <map>
#include <string>

namespace sj {

/// Throws sj::Error unless `feeds` holds exactly the graph's inputs, each with its declared
/// dtype and shape: missing and unknown names are listed together, with the expected types.
void check_feeds(const Graph& graph, const std::map<std::string, Tensor>& feeds);

/// `'a', 'b'`, or `none`: names in messages.
std::string quoted(const std::vector<std::string>& names);

} // namespace sj

// The IR's text form (docs/ir.md), printing side. parse.h reads it back, and
// print(parse(print(g))) == print(g) holds for every graph.
#pragma once

#include "graph/graph.h"

#include <string>
#include <vector>

namespace sj {

/// The text form of `g`: `graph NAME {`, one node per line (attributes in schema order, those
/// equal to their default left out), then the outputs, then `}`.
std::string print(const Graph& g);

/// How the text form refers to each value, indexed by ValueId: `%name` for named values and
/// `%0`, `%1`, ... for unnamed ones, numbered in order among the unnamed values.
std::vector<std::string> value_labels(const Graph& g);

/// The attributes of `node` that differ from their defaults, in schema order, as the text form
/// writes them: `{axes = [0, 1], keepdims = true}`; "" when every attribute is a default.
std::string attrs_str(const Node& node);

} // namespace sj

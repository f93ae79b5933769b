// Graphviz export of the IR, for looking at graphs: `dot -Tsvg graph.dot > graph.svg`.
#pragma once

#include "graph/graph.h"

#include <string>

namespace sj {

/// A Graphviz digraph of `g`: one node per value, labelled with its text-form name, op,
/// non-default attributes (shortened when long) and type; an edge from each operand to its
/// user (labelled with the operand's name when the op takes several); one node per graph
/// output. Inputs, variables, constants, assigns and outputs have distinct shapes and colours.
std::string to_dot(const Graph& g);

} // namespace sj

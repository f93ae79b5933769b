// The IR verifier: re-checks a whole graph, e.g. after a pass has rewritten it.
#pragma once

#include "graph/graph.h"

namespace sj {

/// Checks every invariant Graph::add and Graph::add_output establish, on the graph as it is
/// now: the graph's name is valid; each node's op is in the table, its operands refer to
/// earlier nodes and their count fits the op, its attributes are complete, valid and in
/// schema order, its stored type is what the op's shape rule infers (for input, variable and
/// constant: a valid declared type the rule accepts); names are valid and unique, inputs and
/// variables are named; each variable is assigned at most once and only variables are
/// assigned; outputs have valid, unique names and refer to values of the graph.
///
/// Throws sj::Error at the offending node's location, naming the graph, the node (by its text
/// form label, e.g. `%3`) and what is wrong.
void verify(const Graph& g);

} // namespace sj

// Simplification before fusion: the clean-up that differentiation and optimizers make
// necessary, run to a fixed point.
#pragma once

#include "graph/graph.h"

#include <map>
#include <string>

namespace sj {

/// How many nodes each rule removed (or rewrote), by rule name, e.g. "dce", "cse",
/// "fold_constants", "mul_by_one", "add_zero", "transpose_of_transpose", "reshape_chain",
/// "broadcast_of_scalar", "sum_over_size_one", "matmul_transpose_flag".
using SimplifyStats = std::map<std::string, int>;

/// Returns a simplified copy of `graph` computing the same outputs and the same variable
/// updates (assigns), with the same names for inputs, variables, outputs and named values that
/// survive. Rules: dead-code elimination, common-subexpression elimination, constant folding
/// (of small constants, with the interpreter's kernels), and algebraic identities (x * 1,
/// x + 0, transpose of a transpose, chains of reshapes, broadcasts of scalars, sums over
/// size-1 axes, a matmul of a transposed operand folded into its transpose flag), applied
/// until nothing changes. `stats`, if given, receives the count per rule.
Graph simplify(const Graph& graph, SimplifyStats* stats = nullptr);

} // namespace sj

// Simplification before fusion: the clean-up that differentiation and optimizers make
// necessary, run to a fixed point.
#pragma once

#include "graph/graph.h"

#include <map>
#include <string>

namespace sj {

/// How many nodes each rule removed (or rewrote), by rule name, e.g. "dce", "cse",
/// "fold_constants", "mul_by_one", "add_zero", "transpose_of_transpose", "reshape_chain",
/// "broadcast_of_scalar", "sum_over_size_one", "matmul_transpose_flag". Only rules that fired
/// appear; counts are summed over the sweeps (a node a rewrite leaves unused is counted by
/// "dce" when the next sweep drops it).
using SimplifyStats = std::map<std::string, int>;

/// Returns a simplified copy of `graph` computing the same outputs and the same variable
/// updates (assigns), with the same names for inputs, variables, outputs and named values that
/// survive. Rules: dead-code elimination, common-subexpression elimination, constant folding
/// (of small constants, with the interpreter's kernels), and algebraic identities (x * 1,
/// x + 0, transpose of a transpose, chains of reshapes, broadcasts of scalars, sums over
/// size-1 axes, a matmul of a transposed operand folded into its transpose flag), applied
/// until nothing changes. `stats`, if given, receives the count per rule.
///
/// - Exact: every output and every variable update is bit-identical to the interpreter's on the
///   original graph (the one exception: x * 1 -> x and x + (-0.0) -> x no longer quiet a
///   signaling NaN). Nothing is reassociated. Signed zeros: IEEE gives -0 + +0 = +0, so for
///   floats only x + (-0.0), (-0.0) + x and x - 0.0 count as x (integers: every form); x + 0.0
///   stays (XLA's simplifier removes it and accepts the sign change; simplify does not).
///   Likewise the interpreter's one-element float sum or mean is 0 + x (-0 becomes +0), so
///   "sum_over_size_one" turns it into add(reshape(x), 0.0), not a bare reshape (reduce_max and
///   integer sums: a reshape).
/// - Kept: every input and variable (used or not) with its name, type and initializer, in the
///   same order; every assign; the outputs by name. Nodes keep their relative order. A named
///   value replaced by an equivalent one gives it its name if it has none.
/// - Folding uses the op's interpreter kernel, for results of at most 1024 elements; a
///   broadcast_to that grows its operand is not materialized; a kernel that throws sj::Error
///   (e.g. gather with an index out of range) is left to fail at run time.
/// - CSE never merges inputs, variables or assigns; constants merge by type and bits.
Graph simplify(const Graph& graph, SimplifyStats* stats = nullptr);

} // namespace sj

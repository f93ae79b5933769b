// Numerics guards (CompileOptions::check_numerics, Interpreter's check_numerics): the error of
// a NaN or infinity, the same from both engines.
#pragma once

#include "graph/graph.h"
#include "graph/tensor.h"

#include <cstdint>
#include <optional>

namespace sj {

/// The row of the batch that element `position` (linear) of value v belongs to, when v is
/// per-row: its leading dimension is the batch's (every input of rank >= 1 has the same leading
/// size B) and v is reached from an input through values whose leading size is B (feeds, the
/// activations computed from them, their gradients; not a weight's gradient). nullopt otherwise.
std::optional<int64_t> batch_row(const Graph& graph, ValueId v, int64_t position);

/// Throws the sj::Error of value v holding `value` (NaN or an infinity) at linear `position`,
/// at v's line: `exp 'h': produced +inf at [1, 2] of its f32[4,3] result (batch row 1); ...`.
[[noreturn]] void fail_non_finite(const Graph& graph, ValueId v, double value, int64_t position);

/// fail_non_finite for the first NaN or infinity of `value` (v's result), if it has one.
void check_finite(const Graph& graph, ValueId v, const Tensor& value);

} // namespace sj

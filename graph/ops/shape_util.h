// Helpers shared by the shape rules of graph/ops/*.cpp.
#pragma once

#include "graph/graph.h"
#include "graph/op_table.h"

#include <string_view>

namespace sj::ops {

/// NumPy broadcasting of two shapes; fails naming both shapes and the clashing dimension.
Shape broadcast_shapes(const OpCall& call, const Shape& a, const Shape& b);
/// True when `from` broadcasts to `to` under NumPy rules.
bool broadcasts_to(const Shape& from, const Shape& to);

/// Maps axis (negative counts from the end) into [0, rank); fails naming the attribute.
int normalize_axis(const OpCall& call, int64_t axis, int rank, std::string_view attr);

/// Operand i must have a floating-point dtype (suggests cast otherwise).
void require_float(const OpCall& call, size_t i);
/// Operand i must be numeric (not bool).
void require_numeric(const OpCall& call, size_t i);
/// Operand i must have an integer dtype.
void require_int(const OpCall& call, size_t i);
/// Operands i and j must have the same dtype (suggests cast otherwise).
void require_same_dtype(const OpCall& call, size_t i, size_t j);

/// The table row of an op with one operand `x` (unary math, layout ops).
OpDef unary_def(Op op, std::string_view name, InferFn infer, EvalFn eval, GradFn grad,
                Fusion fusion, std::string_view summary, std::vector<AttrSpec> attrs = {});

/// Attribute lists describing one entry per dimension must have exactly `rank` entries.
void require_length(const OpCall& call, std::string_view attr, size_t got, int rank);

} // namespace sj::ops

// Reverse-mode differentiation that builds the gradient graph as ordinary IR.
#pragma once

#include "graph/graph.h"

#include <vector>

namespace sj {

/// What `differentiate` does with a `wrt` value the loss does not depend on.
enum class Unconnected {
  error, ///< an sj::Error listing every such value and why it is unconnected (the default)
  zero,  ///< its gradient is a constant zero (TensorFlow's unconnected_gradients=ZERO)
  none,  ///< no gradient: kNoGradient in differentiate(), a null Value from gradients()
};

/// The "gradient" of an unconnected value under Unconnected::none (TensorFlow's None).
inline constexpr ValueId kNoGradient = ~ValueId{0};

struct GradientOptions {
  Unconnected unconnected = Unconnected::error;
};

/// Appends to `graph` the nodes that compute d loss / d w for every w in `wrt`, by reverse-mode
/// accumulation from the scalar `loss`, and returns them in the order of `wrt`.
///
/// - Each op's gradient comes from its table entry (OpDef::grad); the result is ordinary IR that
///   can be printed, evaluated, compiled, and differentiated again.
/// - A value used several times gets the sum of its users' contributions; each node is
///   differentiated once, however many paths lead through it.
/// - Integer and bool values carry no gradient, nor do ops without a gradient rule
///   (comparisons, one_hot, stop_gradient, assign): gradients stop there.
/// - A gradient value of a named `w` is named `grad.<name>` when that name is free.
///
/// Throws sj::Error, located at `loc` (the caller's line), when the loss is not a floating-point
/// scalar, `wrt` is empty or holds a non-float value, or a `wrt` value does not influence the
/// loss (unless options.unconnected is Unconnected::zero).
std::vector<ValueId> differentiate(Graph& graph, ValueId loss, const std::vector<ValueId>& wrt,
                                   const GradientOptions& options = {}, const Location& loc = {});

} // namespace sj

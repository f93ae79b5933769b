// What gradient rules see, and the helpers they share.
//
// A rule is the vector-Jacobian product of one op: given the gradient `g` of the loss with
// respect to the op's result `y`, it emits ordinary ops (no special gradient node kinds) that
// compute the gradient with respect to each operand the pass wants, of exactly that operand's
// type. Because the result is ordinary IR, gradients of gradients work the same way.
#pragma once

#include "graph/builder.h"

#include <optional>
#include <vector>

namespace sj {

struct GradCall {
  Graph& graph;
  ValueId node;                            // the forward node
  std::vector<Value> x;                    // its operands
  Value y;                                 // its result
  Value g;                                 // d loss / d y, of y's type
  std::vector<bool> wanted;                // operands whose gradient the pass needs
  std::vector<std::optional<Value>> grads; // set by the rule, one per wanted operand

  const Attrs& attrs() const { return graph.node(node).attrs; }
  bool wants(size_t i) const { return wanted[i]; }
  /// Records d loss / d x[i]; ignored unless x[i] is wanted (so rules may compute freely).
  void set(size_t i, Value grad) {
    if (wanted[i]) grads[i] = grad;
  }
};

/// Whether operand `i` of `node` passes a gradient: the op has a rule, and both the operand and
/// the result are floating point (integer and bool values carry no gradient).
bool carries_gradient(const Graph& graph, const Node& node, size_t i);

/// Sums `g` over the dimensions NumPy broadcasting added or stretched, giving `shape`: the
/// adjoint of broadcasting an operand of `shape` to g's shape.
Value unbroadcast(Value g, const Shape& shape);
/// reshape / broadcast_to that add no node when `v` already has `shape`.
Value reshaped(Value v, const Shape& shape);
Value broadcasted(Value v, const Shape& shape);
/// 1.0 where cond holds, else 0.0, in `dtype`.
Value mask(Value cond, DType dtype);
/// A node of `op` with complete attributes, at the forward node's line: for rules whose
/// gradient is another op of the same family with the forward node's attributes (conv2d's,
/// pooling's), where a builder call would only unpack them.
Value emit(GradCall& c, Op op, const std::vector<Value>& operands, const Attrs& attrs);
/// `attrs` without the named ones (e.g. a gradient's input_shape, to build the forward op).
Attrs attrs_without(const Attrs& attrs, std::initializer_list<std::string_view> names);

} // namespace sj

#include "graph/gradient.h"

#include <algorithm>

namespace sj {

bool carries_gradient(const Graph& graph, const Node& node, size_t i) {
  return node.def().grad != nullptr && is_float(node.type.dtype) &&
         is_float(graph.type(node.operands[i]).dtype);
}

Value unbroadcast(Value g, const Shape& shape) {
  if (g.shape() == shape) return g;
  // Leading dimensions broadcasting added, and dimensions it stretched from 1.
  int extra = g.rank() - static_cast<int>(shape.size());
  std::vector<int64_t> axes;
  for (int i = 0; i < g.rank(); ++i)
    if (i < extra || (shape[i - extra] == 1 && g.shape()[i] != 1)) axes.push_back(i);
  Value summed = axes.empty() ? g : reduce_sum(g, axes, /*keepdims=*/true);
  return reshaped(summed, shape);
}

Value reshaped(Value v, const Shape& shape) { return v.shape() == shape ? v : reshape(v, shape); }

Value broadcasted(Value v, const Shape& shape) {
  return v.shape() == shape ? v : broadcast_to(v, shape);
}

Value mask(Value cond, DType dtype) { return cast(cond, dtype); }

Attrs attrs_without(const Attrs& attrs, std::initializer_list<std::string_view> names) {
  Attrs kept;
  for (const auto& [name, value] : attrs.items())
    if (std::find(names.begin(), names.end(), name) == names.end()) kept.set(name, value);
  return kept;
}

Value emit(GradCall& c, Op op, const std::vector<Value>& operands, const Attrs& attrs) {
  std::vector<ValueId> ids;
  for (const Value& v : operands)
    ids.push_back(v.id());
  return {c.graph, c.graph.add(op, std::move(ids), attrs, c.graph.node(c.node).loc)};
}

} // namespace sj

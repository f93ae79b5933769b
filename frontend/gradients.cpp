#include "frontend/gradients.h"

#include <fmt/format.h>

namespace sj {

std::vector<Value> gradients(Value loss, const std::vector<Value>& wrt,
                             const GradientOptions& options, Loc loc) {
  Graph& g = loss.graph();
  std::vector<ValueId> ids;
  for (const Value& w : wrt) {
    if (&w.graph() != &g)
      throw Error(loc.where, fmt::format("gradients: a `wrt` value belongs to graph '{}', not to "
                                         "the loss's graph '{}'",
                                         w.graph().name(), g.name()));
    ids.push_back(w.id());
  }
  std::vector<Value> result;
  for (ValueId v : differentiate(g, loss.id(), ids, options, loc.where))
    result.push_back(v == kNoGradient ? Value() : Value(g, v));
  return result;
}

std::vector<Value> all_variables(Graph& graph) {
  std::vector<Value> r;
  for (ValueId v : graph.nodes_of(Op::variable))
    r.emplace_back(graph, v);
  return r;
}

} // namespace sj

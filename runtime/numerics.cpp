#include "runtime/numerics.h"

#include <cmath>
#include <fmt/format.h>
#include <fmt/ranges.h>

namespace sj {

std::optional<int64_t> batch_row(const Graph& graph, ValueId v, int64_t position) {
  std::optional<int64_t> batch;
  for (ValueId in : graph.nodes_of(Op::input)) {
    const Shape& s = graph.type(in).shape;
    if (s.empty()) continue;
    if (batch && *batch != s[0]) return std::nullopt; // inputs disagree: no batch dimension
    batch = s[0];
  }
  if (!batch || *batch <= 0) return std::nullopt;
  // Per value: its leading size is B and it depends on a feed through such values.
  auto leading_b = [&](ValueId u) {
    const Shape& s = graph.type(u).shape;
    return !s.empty() && s[0] == *batch;
  };
  std::vector<bool> per_row(size_t(v) + 1, false);
  for (ValueId u = 0; u <= v; ++u) {
    if (!leading_b(u)) continue;
    const Node& n = graph.node(u);
    bool row = n.op == Op::input;
    for (ValueId o : n.operands)
      row = row || per_row[o];
    per_row[u] = row;
  }
  if (!per_row[v]) return std::nullopt;
  int64_t per = graph.type(v).num_elements() / *batch;
  return per > 0 ? std::optional<int64_t>(position / per) : std::nullopt;
}

void fail_non_finite(const Graph& graph, ValueId v, double value, int64_t position) {
  const Node& node = graph.node(v);
  const Shape& shape = node.type.shape;
  std::vector<int64_t> at(shape.size());
  int64_t rest = position;
  for (size_t d = shape.size(); d-- > 0;) {
    at[d] = shape[d] > 0 ? rest % shape[d] : 0;
    rest = shape[d] > 0 ? rest / shape[d] : 0;
  }
  std::string what = std::isnan(value) ? "NaN" : value > 0 ? "+inf" : "-inf";
  std::string label = node.name.empty() ? fmt::format("{} %{}", node.def().name, v)
                                        : fmt::format("{} '{}'", node.def().name, node.name);
  std::string verb = node.op == Op::input      ? "the feed holds"
                     : node.op == Op::variable ? "the variable holds"
                                               : "produced";
  std::string row;
  if (auto r = batch_row(graph, v, position)) row = fmt::format(" (batch row {})", *r);
  throw Error(node.loc, fmt::format("{}: {} {} at [{}] of its {} value{}; check_numerics stopped "
                                    "the step: no variable was updated",
                                    label, verb, what, fmt::join(at, ", "), node.type.str(), row));
}

void check_finite(const Graph& graph, ValueId v, const Tensor& value) {
  auto first_bad = [&](auto* data) {
    for (int64_t i = 0; i < value.num_elements(); ++i)
      if (!std::isfinite(data[i])) fail_non_finite(graph, v, double(data[i]), i);
  };
  if (value.dtype() == DType::f32) first_bad(value.data<float>());
  if (value.dtype() == DType::f64) first_bad(value.data<double>());
}

} // namespace sj

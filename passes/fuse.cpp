#include "passes/fuse.h"

#include <fmt/format.h>

namespace sj {

namespace {

bool has_element_rule(const Node& n) {
  return n.def().fusion == Fusion::elementwise || n.def().fusion == Fusion::index_map;
}

} // namespace

FusionPlan fuse(const Graph& g) {
  size_t n = g.size();
  std::vector<int> uses(n, 0);
  std::vector<ValueId> user(n, 0);
  for (ValueId v = 0; v < n; ++v)
    for (ValueId o : g.node(v).operands) {
      ++uses[o];
      user[o] = v;
    }
  for (const Output& o : g.outputs())
    uses[o.value] += 2; // outputs are stored

  FusionPlan plan{std::vector<bool>(n, false), std::vector<ValueId>(n)};
  for (ValueId v = 0; v < n; ++v) {
    const Node& node = g.node(v);
    if (!has_element_rule(node) || uses[v] != 1) continue;
    const Node& u = g.node(user[v]);
    bool same_shape = has_element_rule(u) && u.type.shape == node.type.shape;
    plan.inlined[v] = same_shape || u.def().fusion == Fusion::reduction;
  }
  // Roots, from the last node back: an inlined value belongs to its user's group.
  for (ValueId v = static_cast<ValueId>(n); v-- > 0;)
    plan.root[v] = plan.inlined[v] ? plan.root[user[v]] : v;
  return plan;
}

std::string print_fusion(const Graph& g, const FusionPlan& plan) {
  std::vector<std::vector<ValueId>> members(g.size());
  for (ValueId v = 0; v < g.size(); ++v)
    if (plan.inlined[v]) members[plan.root[v]].push_back(v);
  auto label = [&](ValueId v) {
    const Node& n = g.node(v);
    return n.name.empty() ? fmt::format("{} %{}", n.def().name, v)
                          : fmt::format("{} %{}", n.def().name, n.name);
  };
  std::string s;
  int groups = 0, fused = 0;
  for (ValueId v = 0; v < g.size(); ++v) {
    if (plan.inlined[v] || members[v].empty()) continue;
    std::vector<std::string> inner;
    for (ValueId m : members[v])
      inner.push_back(label(m));
    s += fmt::format("# group: {} <- {}\n", label(v), fmt::join(inner, ", "));
    ++groups;
    fused += int(members[v].size());
  }
  s += fmt::format("# {} fused groups, {} values never stored\n", groups, fused);
  return s;
}

} // namespace sj

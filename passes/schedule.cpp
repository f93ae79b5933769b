#include "passes/schedule.h"

#include <vector>

namespace sj {

namespace {

bool is_source(const Node& n) {
  return n.op == Op::input || n.op == Op::variable || n.op == Op::constant;
}

// Moved as early as its operands allow: cheap, and what later loops wait for.
bool hoisted(const Node& n) { return n.type.rank() == 0 && !n.def().has_effect; }

} // namespace

Graph schedule(const Graph& g) {
  size_t n = g.size();
  std::vector<ValueId> order;
  std::vector<bool> placed(n, false);
  auto place = [&](ValueId v) {
    order.push_back(v);
    placed[v] = true;
  };
  auto ready = [&](ValueId v) {
    for (ValueId o : g.node(v).operands)
      if (!placed[o]) return false;
    return true;
  };
  // Places every waiting scalar whose operands are all placed, until none is left to place.
  auto place_scalars = [&] {
    for (bool more = true; more;) {
      more = false;
      for (ValueId v = 0; v < n; ++v)
        if (!placed[v] && hoisted(g.node(v)) && !is_source(g.node(v)) && ready(v)) {
          place(v);
          more = true;
        }
    }
  };
  for (ValueId v = 0; v < n; ++v)
    if (is_source(g.node(v))) place(v);
  place_scalars();
  for (ValueId v = 0; v < n; ++v) {
    if (placed[v]) continue;
    place(v);
    if (!g.node(v).operands.empty()) place_scalars();
  }

  Graph out(g.name());
  std::vector<ValueId> map(n);
  for (ValueId v : order) {
    const Node& node = g.node(v);
    std::vector<ValueId> operands;
    for (ValueId o : node.operands)
      operands.push_back(map[o]);
    map[v] = out.add(node.op, std::move(operands), node.attrs, node.loc, node.name,
                     node.def().declares_type ? &node.type : nullptr);
  }
  for (const Output& o : g.outputs())
    out.add_output(o.name, map[o.value]);
  return out;
}

} // namespace sj

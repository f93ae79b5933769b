#include "graph/verify.h"

#include "graph/print.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace sj {

namespace {

std::vector<std::string_view> attr_names(const Attrs& attrs) {
  std::vector<std::string_view> names;
  for (const auto& [name, value] : attrs.items())
    names.push_back(name);
  return names;
}

} // namespace

// Replays the graph through Graph::add and Graph::add_output into a fresh graph, so the
// verifier and the builder share one set of checks (operands, names, attributes, shape rules,
// the assign rules seen from the nodes before each one), then compares what they produce
// with what is stored.
void verify(const Graph& g) {
  if (!is_valid_name(g.name()))
    throw Error({}, fmt::format("graph '{}': not a valid name: use letters, digits, '_', '.' and "
                                "'/', starting with a letter or '_'",
                                g.name()));
  std::vector<std::string> labels = value_labels(g);
  Graph replay(g.name());
  for (size_t i = 0; i < g.size(); ++i) {
    const Node& n = g.node(static_cast<ValueId>(i));
    auto fail = [&](const std::string& what) {
      throw Error(n.loc, fmt::format("graph '{}', value {}: {}", g.name(), labels[i], what));
    };
    if (static_cast<size_t>(n.op) >= kNumOps)
      fail(fmt::format("op code {} is not in the op table", static_cast<size_t>(n.op)));
    const OpDef& def = n.def();
    for (size_t k = 0; k < n.operands.size(); ++k)
      if (n.operands[k] >= i)
        fail(fmt::format("{}: operand {} refers to {}, which is not defined before this node",
                         def.name, k,
                         n.operands[k] < g.size() ? labels[n.operands[k]]
                                                  : fmt::format("value #{}", n.operands[k])));
    std::optional<ValueId> id;
    std::string replay_error;
    try {
      id = replay.add(n.op, n.operands, n.attrs, n.loc, n.name,
                      def.declares_type ? &n.type : nullptr);
    } catch (const Error& e) {
      replay_error = e.message();
    }
    if (!id) fail(replay_error);
    const Node& r = replay.node(*id);
    // Normalization keeps the given values and only adds defaults or reorders, so comparing
    // the names is exact (and not fooled by a NaN attribute, which never equals itself).
    if (attr_names(r.attrs) != attr_names(n.attrs))
      fail(fmt::format("{}: the attributes [{}] are not the schema's complete list in order [{}]",
                       def.name, fmt::join(attr_names(n.attrs), ", "),
                       fmt::join(attr_names(r.attrs), ", ")));
    if (r.type != n.type)
      fail(fmt::format("{}: the stored type {} differs from the type {} the op's rule infers",
                       def.name, n.type.str(), r.type.str()));
    // Names are unique (the replay checked), so the graph's own index must agree.
    if (!n.name.empty() && g.find(n.name) != std::optional<ValueId>(i))
      fail(fmt::format("{}: the graph's name index does not map '{}' to this node", def.name,
                       n.name));
  }
  for (const Output& o : g.outputs()) {
    Location loc = o.value < g.size() ? g.node(o.value).loc : Location{};
    try {
      replay.add_output(o.name, o.value, loc);
    } catch (const Error& e) {
      throw Error(loc, fmt::format("graph '{}': {}", g.name(), e.message()));
    }
  }
}

} // namespace sj

#include "graph/op_table.h"

#include "graph/graph.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace sj {

#define SJ_OP(name, family) extern const OpDef name##_def;
#include "graph/ops.def"
#undef SJ_OP

namespace {

const OpDef* const kTable[] = {
#define SJ_OP(name, family) &name##_def,
#include "graph/ops.def"
#undef SJ_OP
};

} // namespace

const OpDef& op_def(Op op) {
  auto i = static_cast<size_t>(op);
  if (i >= kNumOps) internal_error("op_def: not an op");
  return *kTable[i];
}

const OpDef* find_op(std::string_view name) {
  for (const OpDef* d : kTable)
    if (d->name == name) return d;
  return nullptr;
}

Attrs normalize_attrs(const OpDef& def, const Attrs& given, const Location& loc) {
  for (const auto& [name, value] : given.items()) {
    const AttrSpec* spec = nullptr;
    for (const AttrSpec& s : def.attrs)
      if (s.name == name) spec = &s;
    if (!spec) {
      std::vector<std::string_view> names;
      for (const AttrSpec& s : def.attrs)
        names.push_back(s.name);
      throw Error(loc, fmt::format("{}: has no attribute '{}'{}", def.name, name,
                                   names.empty()
                                       ? std::string(" (it takes none)")
                                       : fmt::format(" (it takes: {})", fmt::join(names, ", "))));
    }
    if (attr_kind_of(value) != spec->kind)
      throw Error(loc, fmt::format("{}: attribute '{}' must be a{} {}, got {} {}", def.name, name,
                                   spec->kind == AttrKind::integer ? "n" : "",
                                   attr_kind_name(spec->kind), attr_kind_name(attr_kind_of(value)),
                                   attr_value_str(value)));
    if (spec->kind == AttrKind::name && !spec->choices.empty()) {
      const std::string& v = std::get<std::string>(value);
      bool ok = false;
      for (std::string_view c : spec->choices)
        ok = ok || c == v;
      if (!ok)
        throw Error(loc, fmt::format("{}: attribute '{}' is '{}', expected one of: {}", def.name,
                                     name, v, fmt::join(spec->choices, ", ")));
    }
  }
  Attrs full;
  for (const AttrSpec& s : def.attrs) {
    if (const AttrValue* v = given.find(s.name))
      full.set(s.name, *v);
    else if (s.default_value)
      full.set(s.name, *s.default_value);
    else
      throw Error(loc, fmt::format("{}: missing the required attribute '{}' ({})", def.name, s.name,
                                   attr_kind_name(s.kind)));
  }
  return full;
}

std::string op_signature(std::string_view op, std::span<const TensorType> types) {
  // A message must stay readable (and small) whatever the operand count.
  constexpr size_t kShown = 8;
  std::vector<std::string> parts;
  for (size_t i = 0; i < types.size() && i < kShown; ++i)
    parts.push_back(types[i].str());
  if (types.size() > kShown) parts.push_back(fmt::format("... {} more", types.size() - kShown));
  return fmt::format("{}({})", op, fmt::join(parts, ", "));
}

std::string OpCall::signature() const { return op_signature(def.name, types); }

void OpCall::fail(const std::string& message) const {
  throw Error(loc, fmt::format("{}: {}", signature(), message));
}

const Attrs& EvalCall::attrs() const { return node.attrs; }
const TensorType& EvalCall::type() const { return node.type; }

void EvalCall::fail(const std::string& message) const {
  throw Error(node.loc, fmt::format("{}: {}", node_label(node), message));
}

void EvalCall::fail_at_run_time(int64_t value, int64_t position) const {
  sj::fail_at_run_time(graph, node, value, position);
}

void fail_at_run_time(const Graph& graph, const Node& node, int64_t value, int64_t position) {
  const OpDef& def = node.def();
  if (!def.explain)
    internal_error(fmt::format("{} reported a run-time error but has no explain", def.name));
  throw Error(node.loc, fmt::format("{}: {}; no variable was updated", node_label(node),
                                    def.explain(graph, node, value, position)));
}

} // namespace sj

#include "graph/dot.h"

#include "graph/print.h"

#include <fmt/format.h>

namespace sj {

namespace {

// The inside of a DOT double-quoted string: quotes and backslashes escaped, line breaks as
// DOT's centred `\n`, other control characters dropped.
std::string escape(std::string_view s) {
  std::string r;
  for (char c : s) {
    if (c == '"' || c == '\\')
      r += {'\\', c};
    else if (c == '\n')
      r += "\\n";
    else if (static_cast<unsigned char>(c) >= 0x20 && c != 0x7f)
      r += c;
  }
  return r;
}

// Large constants would make unreadable labels.
std::string shorten(std::string s) {
  constexpr size_t kMax = 48;
  if (s.size() > kMax) s = s.substr(0, kMax - 3) + "...";
  return s;
}

// Shape and fill of a value's box. The three sources are the IR's kinds of leaf (fed, stored,
// fixed), not op behaviour, so they are named here; effects stand out through the table's flag.
std::string_view style_of(const OpDef& def) {
  if (def.op == Op::input) return "shape=invhouse, fillcolor=\"#cfe2ff\"";
  if (def.op == Op::variable) return "shape=cylinder, fillcolor=\"#ffe5b4\"";
  if (def.op == Op::constant) return "shape=note, fillcolor=\"#e9ecef\"";
  if (def.has_effect) return "shape=box, fillcolor=\"#f8d7da\", penwidth=2";
  return "shape=box, fillcolor=white";
}

} // namespace

std::string to_dot(const Graph& g) {
  std::vector<std::string> labels = value_labels(g);
  std::string out = fmt::format("digraph \"{}\" {{\n", escape(g.name()));
  out += "  node [fontname=\"monospace\", style=\"rounded,filled\"];\n";
  out += "  edge [fontname=\"monospace\", fontsize=10];\n";
  for (size_t i = 0; i < g.size(); ++i) {
    const Node& n = g.node(static_cast<ValueId>(i));
    std::string op = std::string(n.def().name);
    if (std::string attrs = attrs_str(n); !attrs.empty()) op += " " + shorten(std::move(attrs));
    out += fmt::format("  v{} [label=\"{}\", {}];\n", i,
                       escape(fmt::format("{}\n{}\n{}", labels[i], op, n.type.str())),
                       style_of(n.def()));
  }
  for (size_t i = 0; i < g.size(); ++i) {
    const Node& n = g.node(static_cast<ValueId>(i));
    const auto& names = n.def().operand_names;
    for (size_t k = 0; k < n.operands.size(); ++k) {
      out += fmt::format("  v{} -> v{}", n.operands[k], i);
      // Name the operand where the order matters; variadic ops number theirs.
      if (n.operands.size() > 1) {
        std::string name = n.def().num_operands == kVariadic || k >= names.size()
                               ? std::to_string(k)
                               : std::string(names[k]);
        out += fmt::format(" [label=\"{}\"]", escape(name));
      }
      out += ";\n";
    }
  }
  for (size_t i = 0; i < g.outputs().size(); ++i) {
    const Output& o = g.outputs()[i];
    out += fmt::format("  out{} [label=\"output {}\", shape=doubleoctagon, "
                       "fillcolor=\"#d1e7dd\"];\n",
                       i, escape(o.name));
    out += fmt::format("  v{} -> out{};\n", o.value, i);
  }
  out += "}\n";
  return out;
}

} // namespace sj

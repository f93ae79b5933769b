#include "graph/print.h"

#include <algorithm>
#include <bit>
#include <fmt/format.h>
#include <fmt/ranges.h>

namespace sj {

std::vector<std::string> value_labels(const Graph& g) {
  std::vector<std::string> labels;
  labels.reserve(g.size());
  size_t unnamed = 0;
  for (const Node& n : g.nodes())
    labels.push_back(n.name.empty() ? fmt::format("%{}", unnamed++) : "%" + n.name);
  return labels;
}

namespace {

// Equal to the default, so the printer may leave it out. Reals compare by bits: -0.0 == 0.0,
// but leaving out `value = -0.0` would change the parsed graph.
bool is_default(const AttrSpec& spec, const AttrValue& v) {
  if (!spec.default_value) return false;
  const auto* real = std::get_if<double>(&v);
  const auto* default_real = std::get_if<double>(&*spec.default_value);
  if (real && default_real)
    return std::bit_cast<uint64_t>(*real) == std::bit_cast<uint64_t>(*default_real);
  return v == *spec.default_value;
}

} // namespace

std::string attrs_str(const Node& node) {
  std::vector<std::string> parts;
  std::vector<std::string_view> shown_as_list; // `pads`, printed as `padding = [[...]]`
  for (const AttrSpec& spec : node.def().attrs) {
    const AttrValue* v = node.attrs.find(spec.name);
    if (!v || is_default(spec, *v) ||
        std::find(shown_as_list.begin(), shown_as_list.end(), spec.name) != shown_as_list.end())
      continue;
    const auto* list = spec.list_into.empty() ? nullptr : node.attrs.find(spec.list_into);
    const auto* ints = list ? std::get_if<std::vector<int64_t>>(list) : nullptr;
    if (ints && *v == AttrValue(std::string(spec.list_choice)) && ints->size() % 2 == 0) {
      std::vector<std::string> pairs;
      for (size_t i = 0; i < ints->size(); i += 2)
        pairs.push_back(fmt::format("[{}, {}]", (*ints)[i], (*ints)[i + 1]));
      parts.push_back(fmt::format("{} = [{}]", spec.name, fmt::join(pairs, ", ")));
      shown_as_list.push_back(spec.list_into);
      continue;
    }
    parts.push_back(fmt::format("{} = {}", spec.name, attr_value_str(*v)));
  }
  if (parts.empty()) return {};
  return fmt::format("{{{}}}", fmt::join(parts, ", "));
}

std::string print(const Graph& g) {
  std::vector<std::string> labels = value_labels(g);
  auto label = [&](ValueId v) -> const std::string& {
    SJ_ASSERT(v < labels.size());
    return labels[v];
  };
  std::string out = fmt::format("graph {} {{\n", g.name());
  for (size_t i = 0; i < g.size(); ++i) {
    const Node& n = g.node(static_cast<ValueId>(i));
    out += fmt::format("  {} = {}", labels[i], n.def().name);
    if (!n.operands.empty()) {
      std::vector<std::string_view> operands;
      for (ValueId v : n.operands)
        operands.push_back(label(v));
      out += fmt::format("({})", fmt::join(operands, ", "));
    }
    if (std::string attrs = attrs_str(n); !attrs.empty()) out += " " + attrs;
    out += fmt::format(" : {}\n", n.type.str());
  }
  for (const Output& o : g.outputs())
    out += fmt::format("  output {} = {}\n", o.name, label(o.value));
  out += "}\n";
  return out;
}

} // namespace sj

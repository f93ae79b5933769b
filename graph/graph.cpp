#include "graph/graph.h"

#include <fmt/format.h>

namespace sj {

bool is_valid_name(std::string_view name) {
  if (name.empty()) return false;
  auto alpha = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; };
  auto digit = [](char c) { return c >= '0' && c <= '9'; };
  if (!alpha(name[0])) return false;
  for (char c : name)
    if (!alpha(c) && !digit(c) && c != '.' && c != '/') return false;
  return true;
}

std::string node_label(const Node& node) {
  return node.name.empty() ? std::string(node.def().name)
                           : fmt::format("{} '{}'", node.def().name, node.name);
}

std::string op_with_article(const Node& node) {
  std::string_view op = node.def().name;
  bool vowel = std::string_view("aeiou").find(op.front()) != std::string_view::npos;
  return fmt::format("{} {}", vowel ? "an" : "a", op);
}

std::string value_label(const Graph& graph, ValueId v) {
  const Node& n = graph.node(v);
  return n.name.empty() ? fmt::format("%{} (an unnamed {})", v, n.def().name)
                        : fmt::format("'{}'", n.name);
}

Graph::Graph(std::string name) : name_(std::move(name)) {}

AttributeTo::AttributeTo(Graph& graph, Location loc, std::string context)
    : graph_(graph), attribution_{std::move(loc), std::move(context)}, outer_(graph.attribution_) {
  graph_.attribution_ = &attribution_;
}

AttributeTo::~AttributeTo() { graph_.attribution_ = outer_; }

ValueId Graph::add(Op op, std::vector<ValueId> operands, const Attrs& attrs, Location loc,
                   std::string name, const TensorType* declared) {
  if (!attribution_)
    return add_checked(op, std::move(operands), attrs, std::move(loc), std::move(name), declared);
  try {
    return add_checked(op, std::move(operands), attrs, attribution_->loc, std::move(name),
                       declared);
  } catch (const Error& e) {
    throw Error(e.location(), fmt::format("in {}: {}", attribution_->context, e.message()));
  }
}

ValueId Graph::add_checked(Op op, std::vector<ValueId> operands, const Attrs& attrs, Location loc,
                           std::string name, const TensorType* declared) {
  const OpDef& def = op_def(op);
  if (!name.empty()) {
    if (!is_valid_name(name))
      throw Error(loc, fmt::format("{}: '{}' is not a valid name: use letters, digits, '_', '.' "
                                   "and '/', starting with a letter or '_'",
                                   def.name, name));
    if (find(name))
      throw Error(loc, fmt::format("{}: the name '{}' is already used by another value in graph "
                                   "'{}'",
                                   def.name, name, name_));
  } else if (op == Op::input || op == Op::variable) {
    throw Error(
        loc, fmt::format("{}: needs a name (feeds and checkpoints refer to it by name)", def.name));
  }
  if (def.num_operands == kVariadic ? operands.empty()
                                    : operands.size() != size_t(def.num_operands))
    throw Error(loc, fmt::format("{}: takes {} operand{}, got {}", def.name,
                                 def.num_operands == kVariadic ? "one or more"
                                                               : std::to_string(def.num_operands),
                                 def.num_operands == 1 ? "" : "s", operands.size()));
  if (operands.size() > kMaxOperands)
    throw Error(loc, fmt::format("{}: {} operands, the most is {} (combine them in stages)",
                                 def.name, operands.size(), kMaxOperands));
  std::vector<TensorType> types;
  for (ValueId v : operands) {
    if (v >= nodes_.size())
      throw Error(loc,
                  fmt::format("{}: operand %{} is not a value of graph '{}'", def.name, v, name_));
    types.push_back(nodes_[v].type);
  }
  if (def.declares_type && !declared)
    throw Error(loc, fmt::format("{}: needs its type written out (e.g. f32[32,100])", def.name));
  if (declared) {
    if (declared->rank() > kMaxRank)
      throw Error(loc, fmt::format("{}: type {} has rank {}, the most is {}", def.name,
                                   declared->str(), declared->rank(), kMaxRank));
    if (!checked_num_elements(declared->shape))
      throw Error(loc, fmt::format("{}: shape {} {}", def.name, shape_str(declared->shape),
                                   shape_limit_reason(declared->shape)));
  }

  Attrs full = normalize_attrs(def, attrs, loc);
  OpCall call{def, *this, operands, types, full, declared, loc};
  TensorType type = def.infer(call);
  if (type.rank() > kMaxRank)
    call.fail(fmt::format("the result {} would have rank {}, the most "
                          "is {}",
                          type.str(), type.rank(), kMaxRank));
  if (!checked_num_elements(type.shape))
    call.fail(fmt::format("the result shape {} {}", shape_str(type.shape),
                          shape_limit_reason(type.shape)));
  if (declared && !def.declares_type && *declared != type)
    call.fail(fmt::format("the written result type {} differs from the inferred type {}",
                          declared->str(), type.str()));

  auto id = static_cast<ValueId>(nodes_.size());
  if (!name.empty()) by_name_.emplace(name, id);
  nodes_.push_back(Node{op, std::move(operands), std::move(full), std::move(type), std::move(name),
                        std::move(loc)});
  return id;
}

void Graph::set_name(ValueId value, std::string name, const Location& loc) {
  if (value >= nodes_.size())
    throw Error(loc, fmt::format("set_name: %{} is not a value of graph '{}'", value, name_));
  Node& n = nodes_[value];
  if (!n.name.empty())
    throw Error(loc, fmt::format("set_name: value '{}' already has a name", n.name));
  if (!is_valid_name(name))
    throw Error(loc, fmt::format("set_name: '{}' is not a valid name: use letters, digits, '_', "
                                 "'.' and '/', starting with a letter or '_'",
                                 name));
  if (find(name))
    throw Error(loc,
                fmt::format("set_name: the name '{}' is already used in graph '{}'", name, name_));
  by_name_.emplace(name, value);
  n.name = std::move(name);
}

void Graph::add_output(std::string name, ValueId value, const Location& loc) {
  if (!is_valid_name(name)) throw Error(loc, fmt::format("output: '{}' is not a valid name", name));
  if (output(name))
    throw Error(
        loc, fmt::format("output: the name '{}' is already an output of graph '{}'", name, name_));
  if (value >= nodes_.size())
    throw Error(loc,
                fmt::format("output '{}': %{} is not a value of graph '{}'", name, value, name_));
  outputs_.push_back({std::move(name), value});
}

std::optional<ValueId> Graph::output(std::string_view name) const {
  for (const Output& o : outputs_)
    if (o.name == name) return o.value;
  return std::nullopt;
}

std::optional<ValueId> Graph::find(std::string_view name) const {
  auto it = by_name_.find(std::string(name));
  if (it == by_name_.end()) return std::nullopt;
  return it->second;
}

std::vector<ValueId> Graph::nodes_of(Op op) const {
  std::vector<ValueId> r;
  for (size_t i = 0; i < nodes_.size(); ++i)
    if (nodes_[i].op == op) r.push_back(static_cast<ValueId>(i));
  return r;
}

std::vector<bool> Graph::live_values() const {
  std::vector<bool> live(nodes_.size(), false);
  for (const Output& o : outputs_)
    live[o.value] = true;
  for (size_t v = nodes_.size(); v-- > 0;) {
    const Node& n = nodes_[v];
    if (n.op == Op::input || n.op == Op::variable || n.def().has_effect) live[v] = true;
    if (live[v])
      for (ValueId o : n.operands)
        live[o] = true;
  }
  return live;
}

} // namespace sj

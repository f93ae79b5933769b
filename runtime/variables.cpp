#include "runtime/variables.h"

#include "graph/initializers.h"
#include "runtime/feeds.h"

#include <fmt/format.h>
#include <new>

namespace sj {

// A graph too big for this machine is the user's problem to fix, not the end of the process:
// running out of memory becomes an sj::Error saying what was being allocated.
void out_of_memory(const Location& loc, const std::string& doing) {
  throw Error(loc, fmt::format("out of memory {} (the interpreter keeps every variable and every "
                               "value of a step in memory)",
                               doing));
}

Variables::Variables(const Graph& graph) : graph_name_(graph.name()) {
  for (const Node& n : graph.nodes())
    if (!n.name.empty() && n.op != Op::variable)
      not_variables_.emplace(n.name, op_with_article(n) + " node");
  for (ValueId v : graph.nodes_of(Op::variable)) {
    const Node& node = graph.node(v);
    try {
      values_.emplace(node.name, initial_value(node));
    } catch (const std::bad_alloc&) {
      out_of_memory(node.loc, fmt::format("initializing variable '{}' of type {}", node.name,
                                          node.type.str()));
    }
  }
}

const Tensor& Variables::get(const std::string& name) const {
  auto it = values_.find(name);
  if (it != values_.end()) return it->second;
  std::vector<std::string> names;
  for (const auto& [n, value] : values_)
    names.push_back(n);
  auto other = not_variables_.find(name);
  std::string what = other != not_variables_.end()
                         ? fmt::format("'{}' is {}, not a variable", name, other->second)
                         : fmt::format("there is no variable '{}'", name);
  throw Error(
      {}, fmt::format("{} in graph '{}'; its variables are {}", what, graph_name_, quoted(names)));
}

void Variables::set(const std::string& name, Tensor value) {
  const Tensor& current = get(name); // checks the name
  if (value.type() != current.type())
    throw Error({}, fmt::format("set_variable: variable '{}' has type {}, but the value is {}",
                                name, current.type().str(), value.type().str()));
  values_.at(name) = std::move(value);
}

} // namespace sj

#include "runtime/interpreter.h"

#include "graph/initializers.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <new>

namespace sj {

namespace {

// What the kernels of source and state ops see during one run(): the feeds, the variables as
// they were before the step, and the assigns collected for the end of the step.
class StepState final : public EvalState {
public:
  StepState(const std::map<std::string, Tensor>& feeds,
            const std::map<std::string, Tensor>& variables)
      : feeds_(feeds), variables_(variables) {}

  const Tensor& feed(const Node& input) override { return lookup(feeds_, input); }
  const Tensor& variable(const Node& variable) override { return lookup(variables_, variable); }
  void assign(const Node& variable, const Tensor& value) override {
    SJ_ASSERT(variables_.count(variable.name) == 1);
    // The shape rule allows one assign per variable, so there is never an earlier one.
    bool first = pending_.emplace(variable.name, value).second;
    SJ_ASSERT(first);
  }
  std::map<std::string, Tensor>& pending() { return pending_; }

private:
  static const Tensor& lookup(const std::map<std::string, Tensor>& map, const Node& node) {
    auto it = map.find(node.name);
    if (it == map.end()) internal_error("interpreter: no value for '" + node.name + "'");
    return it->second;
  }

  const std::map<std::string, Tensor>& feeds_;
  const std::map<std::string, Tensor>& variables_;
  std::map<std::string, Tensor> pending_;
};

// A graph too big for this machine is the user's problem to fix, not the end of the process:
// running out of memory becomes an sj::Error saying what was being allocated.
[[noreturn]] void out_of_memory(const Location& loc, const std::string& doing) {
  throw Error(loc, fmt::format("out of memory {} (the interpreter keeps every variable and every "
                               "value of a step in memory)",
                               doing));
}

std::string quoted(const std::vector<std::string>& names) {
  std::vector<std::string> q;
  for (const std::string& n : names)
    q.push_back("'" + n + "'");
  return q.empty() ? std::string("none") : fmt::format("{}", fmt::join(q, ", "));
}

} // namespace

Interpreter::Interpreter(Graph graph) : graph_(std::move(graph)) {
  for (ValueId v : graph_.nodes_of(Op::variable)) {
    const Node& node = graph_.node(v);
    try {
      variables_.emplace(node.name, initial_value(node));
    } catch (const std::bad_alloc&) {
      out_of_memory(node.loc, fmt::format("initializing variable '{}' of type {}", node.name,
                                          node.type.str()));
    }
  }
}

void Interpreter::check_feeds(const std::map<std::string, Tensor>& feeds) const {
  std::vector<std::string> inputs, missing, unknown;
  for (ValueId v : graph_.nodes_of(Op::input)) {
    const Node& node = graph_.node(v);
    inputs.push_back(node.name);
    if (!feeds.count(node.name))
      missing.push_back(fmt::format("'{}' ({})", node.name, node.type.str()));
  }
  for (const auto& [name, value] : feeds) {
    auto v = graph_.find(name);
    if (!v)
      unknown.push_back(fmt::format("'{}'", name));
    else if (graph_.node(*v).op != Op::input)
      unknown.push_back(
          fmt::format("'{}' ({}, not an input)", name, op_with_article(graph_.node(*v)) + " node"));
  }
  if (!missing.empty() || !unknown.empty()) {
    std::vector<std::string> parts;
    if (!missing.empty())
      parts.push_back(fmt::format("missing feed{} for {}", missing.size() == 1 ? "" : "s",
                                  fmt::join(missing, ", ")));
    if (!unknown.empty())
      parts.push_back(fmt::format("unknown feed{} {}", unknown.size() == 1 ? "" : "s",
                                  fmt::join(unknown, ", ")));
    throw Error({}, fmt::format("run: {}; graph '{}' has the inputs {}", fmt::join(parts, "; "),
                                graph_.name(), quoted(inputs)));
  }
  for (ValueId v : graph_.nodes_of(Op::input)) {
    const Node& node = graph_.node(v);
    const TensorType& given = feeds.at(node.name).type();
    if (given != node.type)
      throw Error(node.loc, fmt::format("run: input '{}' is declared {}, but its feed is {}",
                                        node.name, node.type.str(), given.str()));
  }
}

std::map<std::string, Tensor> Interpreter::run(const std::map<std::string, Tensor>& feeds) {
  check_feeds(feeds);
  StepState state(feeds, variables_);
  std::vector<Tensor> values(graph_.size());
  std::map<std::string, Tensor> outputs;
  const Node* current = nullptr;
  try {
    for (ValueId id = 0; id < graph_.size(); ++id) {
      const Node& node = graph_.node(id);
      current = &node;
      const OpDef& def = node.def();
      if (!def.eval) internal_error(fmt::format("op '{}' has no interpreter kernel", def.name));
      std::vector<const Tensor*> args;
      for (ValueId operand : node.operands) {
        SJ_ASSERT(operand < id);
        args.push_back(&values[operand]);
      }
      values[id] = def.eval(EvalCall{graph_, node, args, state});
      if (values[id].type() != node.type)
        internal_error(fmt::format("the {} kernel returned {} for a node of type {}", def.name,
                                   values[id].type().str(), node.type.str()));
    }
    current = nullptr;
    for (const Output& o : graph_.outputs())
      outputs.emplace(o.name, values[o.value]);
  } catch (const std::bad_alloc&) {
    if (!current) out_of_memory({}, "collecting the outputs");
    out_of_memory(current->loc, fmt::format("evaluating {} of type {}", node_label(*current),
                                            current->type.str()));
  }
  // Every read of the step saw the old values; now the assigns take effect together.
  for (auto& [name, value] : state.pending())
    variables_.at(name) = std::move(value);
  return outputs;
}

const Tensor& Interpreter::variable(const std::string& name) const {
  auto it = variables_.find(name);
  if (it != variables_.end()) return it->second;
  std::vector<std::string> names;
  for (const auto& [n, value] : variables_)
    names.push_back(n);
  auto v = graph_.find(name);
  std::string what = v ? fmt::format("'{}' is {}, not a variable", name,
                                     op_with_article(graph_.node(*v)) + " node")
                       : fmt::format("there is no variable '{}'", name);
  throw Error({}, fmt::format("{} in graph '{}'; its variables are {}", what, graph_.name(),
                              quoted(names)));
}

void Interpreter::set_variable(const std::string& name, Tensor value) {
  const Tensor& current = variable(name); // checks the name
  if (value.type() != current.type())
    throw Error({}, fmt::format("set_variable: variable '{}' has type {}, but the value is {}",
                                name, current.type().str(), value.type().str()));
  variables_.at(name) = std::move(value);
}

} // namespace sj

#include "runtime/interpreter.h"

#include "runtime/feeds.h"

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

} // namespace

Interpreter::Interpreter(Graph graph) : graph_(std::move(graph)), variables_(graph_) {}

std::map<std::string, Tensor> Interpreter::run(const std::map<std::string, Tensor>& feeds) {
  check_feeds(graph_, feeds);
  StepState state(feeds, variables_.all());
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

const Tensor& Interpreter::variable(const std::string& name) const { return variables_.get(name); }

void Interpreter::set_variable(const std::string& name, Tensor value) {
  variables_.set(name, std::move(value));
}

} // namespace sj

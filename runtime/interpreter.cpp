#include "runtime/interpreter.h"

#include "runtime/feeds.h"
#include "runtime/numerics.h"

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

namespace {

// Per value: the last live node that reads it; the graph's size for outputs (kept to the end).
std::vector<ValueId> last_uses(const Graph& g, const std::vector<bool>& live) {
  std::vector<ValueId> last(g.size());
  for (ValueId v = 0; v < g.size(); ++v) {
    last[v] = v;
    if (live[v])
      for (ValueId o : g.node(v).operands)
        last[o] = v;
  }
  for (const Output& o : g.outputs())
    last[o.value] = static_cast<ValueId>(g.size());
  return last;
}

// The limits, checked before the variables are allocated: the work of every live node, then
// the memory this interpreter needs: the variables' storage, plus every value from its node to
// its last use (sources for the whole step).
const Graph& checked(const Graph& g, const std::vector<bool>& live,
                     const std::vector<ValueId>& last_use, const Limits& limits) {
  check_work(g, limits);
  std::vector<int64_t> freed(g.size() + 1, 0); // bytes released after each node
  int64_t held = 0, peak = 0;
  ValueId largest = 0;
  for (ValueId v = 0; v < g.size(); ++v) {
    if (!live[v]) continue;
    const Node& n = g.node(v);
    auto bytes = int64_t(n.type.byte_size());
    if (bytes > int64_t(g.type(largest).byte_size())) largest = v;
    held += n.op == Op::variable ? 2 * bytes : bytes; // its storage, and the step's copy
    peak = std::max(peak, held);
    bool source = n.op == Op::variable || n.op == Op::constant || n.op == Op::input;
    if (!source) freed[last_use[v]] += bytes;
    held -= freed[v];
  }
  if (g.size() > 0)
    check_memory(g, limits, peak, "the interpreter's values at the busiest node", largest);
  return g;
}

} // namespace

Interpreter::Interpreter(Graph graph, const Limits& limits)
    : graph_(std::move(graph)), live_(graph_.live_values()), last_use_(last_uses(graph_, live_)),
      variables_(checked(graph_, live_, last_use_, limits)) {}

Outputs Interpreter::run(const std::map<std::string, Tensor>& feeds) {
  check_feeds(graph_, feeds);
  StepState state(feeds, variables_.all());
  std::vector<Tensor> values(graph_.size());
  Outputs outputs;
  const Node* current = nullptr;
  try {
    for (ValueId id = 0; id < graph_.size(); ++id) {
      if (!live_[id]) continue;
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
      if (check_numerics_ && node.op != Op::constant && node.op != Op::variable &&
          node.op != Op::assign)
        check_finite(graph_, id, values[id]); // before any assign takes effect
      for (ValueId operand : node.operands)
        if (last_use_[operand] == id) values[operand] = Tensor();
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

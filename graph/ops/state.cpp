// State updates: assign(variable, value) stores a variable's next value.
#include "graph/limits.h"
#include "graph/ops/shape_util.h"

#include <fmt/format.h>

namespace sj {
using namespace ops;

namespace {

TensorType infer_assign(const OpCall& c) {
  const Node& target = c.graph.node(c.operands[0]);
  if (target.op != Op::variable)
    c.fail(fmt::format("the target must be a variable (only variables hold state), but it is {} "
                       "'{}'",
                       target.def().name, target.name.empty() ? "(unnamed)" : target.name));
  if (c.types[0] != c.types[1])
    c.fail(fmt::format("the new value's type {} differs from variable '{}' of type {}",
                       c.types[1].str(), target.name, c.types[0].str()));
  for (const Node& n : c.graph.nodes())
    if (n.op == Op::assign && n.operands[0] == c.operands[0])
      c.fail(fmt::format("variable '{}' is already assigned in this graph; a step stores each "
                         "variable once (combine the updates into one value)",
                         target.name));
  return c.types[0];
}

// Records the variable's next value with the interpreter (applied when the step ends) and
// yields the value itself.
Tensor eval_assign(const EvalCall& c) {
  c.state.assign(c.graph.node(c.node.operands[0]), *c.args[1]);
  return *c.args[1];
}

} // namespace

extern const OpDef assign_def = {
    .op = Op::assign,
    .name = "assign",
    .num_operands = 2,
    .operand_names = {"variable", "value"},
    .attrs = {},
    .infer = infer_assign,
    .eval = eval_assign,
    .has_effect = true,
    .summary = "the variable's value after this step; every read in the step sees the old value",
    .flops = no_flops};

} // namespace sj

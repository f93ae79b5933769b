// Graph sources: inputs fed on each call, persistent variables, constants. Their type is
// written out (declared), not inferred.
#include "graph/ops/shape_util.h"

#include <fmt/format.h>

namespace sj {
using namespace ops;

namespace {

TensorType infer_input(const OpCall& c) { return *c.declared; }

TensorType infer_variable(const OpCall& c) {
  const std::string& init = c.attrs.name("init");
  bool random = init != "zeros" && init != "ones" && init != "constant";
  if (random && !is_float(c.declared->dtype))
    c.fail(fmt::format("the {} initializer needs a floating-point variable, not {}", init,
                       c.declared->str()));
  if (init == "uniform" && !(c.attrs.real("low") <= c.attrs.real("high")))
    c.fail(fmt::format("uniform initializer needs low <= high, got low = {}, high = {}",
                       c.attrs.real("low"), c.attrs.real("high")));
  if (init == "normal" && !(c.attrs.real("stddev") >= 0))
    c.fail(fmt::format("normal initializer needs stddev >= 0, got {}", c.attrs.real("stddev")));
  return *c.declared;
}

TensorType infer_constant(const OpCall& c) {
  const Tensor& value = c.attrs.tensor("value");
  if (value.type() != *c.declared)
    c.fail(fmt::format("the value has type {} but the constant is declared {}", value.type().str(),
                       c.declared->str()));
  return *c.declared;
}

// The kernels hand back copies: values of a step are owned by the interpreter's value table.
Tensor eval_input(const EvalCall& c) { return c.state.feed(c.node); }
Tensor eval_variable(const EvalCall& c) { return c.state.variable(c.node); }
Tensor eval_constant(const EvalCall& c) { return c.attrs().tensor("value"); }

} // namespace

extern const OpDef input_def = {.op = Op::input,
                                .name = "input",
                                .num_operands = 0,
                                .operand_names = {},
                                .attrs = {},
                                .infer = infer_input,
                                .eval = eval_input,
                                .declares_type = true,
                                .summary = "a value fed by the caller on every call, by name"};

extern const OpDef variable_def = {
    .op = Op::variable,
    .name = "variable",
    .num_operands = 0,
    .operand_names = {},
    .attrs = {{"init",
               AttrKind::name,
               std::string("zeros"),
               {"zeros", "ones", "constant", "uniform", "normal", "glorot_uniform", "he_normal"}},
              {"seed", AttrKind::integer, int64_t{0}},
              {"value", AttrKind::real, 0.0},
              {"low", AttrKind::real, -0.05},
              {"high", AttrKind::real, 0.05},
              {"mean", AttrKind::real, 0.0},
              {"stddev", AttrKind::real, 0.05}},
    .infer = infer_variable,
    .eval = eval_variable,
    .declares_type = true,
    .summary = "persistent state, initialized once by `init` (see graph/initializers.h)"};

extern const OpDef constant_def = {.op = Op::constant,
                                   .name = "constant",
                                   .num_operands = 0,
                                   .operand_names = {},
                                   .attrs = {{"value", AttrKind::tensor, std::nullopt}},
                                   .infer = infer_constant,
                                   .eval = eval_constant,
                                   .declares_type = true,
                                   .summary = "a fixed tensor"};

} // namespace sj

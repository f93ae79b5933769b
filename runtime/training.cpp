#include "runtime/training.h"

namespace sj {

CompiledStep compile_training_step(Value loss, const std::vector<Value>& vars, Optimizer& optimizer,
                                   const CompileOptions& options, Loc loc) {
  Graph& g = loss.graph();
  if (!g.output("loss")) g.add_output("loss", loss.id(), loc.where);
  optimizer.minimize(loss, vars, loc);
  return CompiledStep::compile(g, options);
}

} // namespace sj

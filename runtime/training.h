// The common case in one call: gradients, the optimizer's update and compilation.
//
//   sj::Adam adam({.learning_rate = 0.01});
//   auto step = sj::compile_training_step(loss, model.trainable_variables(), adam);
//   step.run({{"x", x}, {"y", y}});
#pragma once

#include "frontend/optimizer.h"
#include "runtime/compiled_step.h"

namespace sj {

/// Appends to loss's graph the gradients of `loss` with respect to `vars` and `optimizer`'s
/// update of them (Optimizer::minimize), marks `loss` as the output "loss" if the graph has no
/// such output, and compiles the whole step.
CompiledStep compile_training_step(Value loss, const std::vector<Value>& vars, Optimizer& optimizer,
                                   const CompileOptions& options = {}, Loc loc = {});

} // namespace sj

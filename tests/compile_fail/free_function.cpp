// Compiled by tests/compile_fail/CMakeLists.txt twice: with -DSJ_MISUSE it must fail to
// compile with the diagnostic named below; without it (the corrected code) it must compile, so
// the failure can only come from the misuse line.
//
// MISTAKE: calling apply_gradients without an optimizer instance, as a free function, as if
// the gradients alone said how to update the variables. There is no optimizer-less form:
// apply_gradients is a member of sj::Optimizer.
// Expected (g++): 'apply_gradients' is not a member of 'sj'.
#include "frontend/gradients.h"
#include "frontend/optimizers.h"
#include "graph/builder.h"

#include <vector>

void misuse(sj::Value loss, std::vector<sj::Value> vars) {
  auto grads = sj::gradients(loss, vars);
  sj::Adam adam;
#ifdef SJ_MISUSE
  sj::apply_gradients(sj::zip(grads, vars));
#else
  adam.apply_gradients(sj::zip(grads, vars));
#endif
}

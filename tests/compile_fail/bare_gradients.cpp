// Compiled by tests/compile_fail/CMakeLists.txt twice: with -DSJ_MISUSE it must fail to
// compile with the diagnostic named below; without it (the corrected code) it must compile, so
// the failure can only come from the misuse line.
//
// MISTAKE: passing the bare list of gradients, with no variables to apply them to. A gradient
// does not know its variable; apply_gradients takes (gradient, variable) pairs, which zip()
// makes, and std::vector<sj::Value> does not convert to them.
// Expected (g++): cannot convert 'std::vector<sj::Value>' to 'const std::vector<sj::GradVar>&'.
#include "frontend/gradients.h"
#include "frontend/optimizers.h"
#include "graph/builder.h"

#include <vector>

void misuse(sj::Value loss, std::vector<sj::Value> vars) {
  auto grads = sj::gradients(loss, vars);
  sj::Adam adam;
#ifdef SJ_MISUSE
  adam.apply_gradients(grads);
#else
  adam.apply_gradients(sj::zip(grads, vars));
#endif
}

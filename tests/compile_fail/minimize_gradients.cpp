// Compiled by tests/compile_fail/CMakeLists.txt twice: with -DSJ_MISUSE it must fail to
// compile with the diagnostic named below; without it (the corrected code) it must compile, so
// the failure can only come from the misuse line.
//
// MISTAKE: passing gradients to minimize, which takes the loss and differentiates it itself
// (minimize = gradients + apply_gradients). Gradients go to apply_gradients.
// Expected (g++): cannot convert 'std::vector<sj::Value>' to 'sj::Value'.
#include "frontend/gradients.h"
#include "frontend/optimizers.h"
#include "graph/builder.h"

#include <vector>

void misuse(sj::Value loss, std::vector<sj::Value> vars) {
  auto grads = sj::gradients(loss, vars);
  sj::Adam adam;
#ifdef SJ_MISUSE
  adam.minimize(grads, vars);
#else
  adam.minimize(loss, vars);
#endif
}

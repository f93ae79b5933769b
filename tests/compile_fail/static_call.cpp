// Compiled by tests/compile_fail/CMakeLists.txt twice: with -DSJ_MISUSE it must fail to
// compile with the diagnostic named below; without it (the corrected code) it must compile, so
// the failure can only come from the misuse line.
//
// MISTAKE: calling apply_gradients on the optimizer class instead of an instance, as if it were
// a static function. An optimizer has state (its moments, step counter, hyperparameters), so
// the update needs an object.
// Expected (g++): cannot call member function '... apply_gradients(...)' without object.
#include "frontend/gradients.h"
#include "frontend/optimizers.h"
#include "graph/builder.h"

#include <vector>

void misuse(sj::Value loss, std::vector<sj::Value> vars) {
  auto grads = sj::gradients(loss, vars);
  sj::Adam adam;
#ifdef SJ_MISUSE
  sj::Adam::apply_gradients(sj::zip(grads, vars));
#else
  adam.apply_gradients(sj::zip(grads, vars));
#endif
}

// Compiled by tests/compile_fail/CMakeLists.txt twice: with -DSJ_MISUSE it must fail to
// compile with the diagnostic named below; without it (the corrected code) it must compile, so
// the failure can only come from the misuse line.
//
// MISTAKE: passing one gradient in braces, as if a single Value made a pair: a GradVar needs
// both the gradient and its variable, and has no constructor from one Value.
// Expected (g++): cannot convert '<brace-enclosed initializer list>' to
// 'const std::vector<sj::GradVar>&'.
#include "frontend/gradients.h"
#include "frontend/optimizers.h"
#include "graph/builder.h"

#include <vector>

void misuse(sj::Value loss, std::vector<sj::Value> vars) {
  auto grads = sj::gradients(loss, vars);
  sj::Adam adam;
#ifdef SJ_MISUSE
  adam.apply_gradients({grads[0]});
#else
  adam.apply_gradients({{grads[0], vars[0]}});
#endif
}

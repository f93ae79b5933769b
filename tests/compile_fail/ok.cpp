// Positive control for the compile_fail tests: the correct uses of the optimizer API, compiled
// with the same command and flags as the snippets that must fail. If this stops compiling (a
// broken include path, a header error), every failing snippet would "pass" for the wrong
// reason; this test fails instead.
#include "frontend/gradients.h"
#include "frontend/optimizers.h"
#include "graph/builder.h"

#include <vector>

void correct_uses(sj::Value loss, std::vector<sj::Value> vars) {
  auto grads = sj::gradients(loss, vars);

  sj::Adam adam({.learning_rate = 0.01});
  adam.apply_gradients(sj::zip(grads, vars)); // the two-step form

  sj::SGD sgd = sj::SGD::keras(0.1, 0.9);
  sgd.minimize(loss, vars); // the one-step form

  sj::RMSprop rmsprop;
  rmsprop.apply_gradients({{grads[0], vars[0]}}); // one explicit (gradient, variable) pair

  sj::AdamW adamw;
  adamw.apply_gradients({sj::GradVar(grads[0], vars[0])});
}

// A model library for the `stepjit export` tests: one good model and one whose building fails
// with a shape error, as a user's mistake would.
#include "frontend/layers.h"
#include "runtime/export.h"

STEPJIT_MODEL(tiny) {
  sj::Graph g("tiny");
  auto x = sj::input(g, "x", {sj::DType::f32, {4, 3}});
  sj::Sequential model(sj::Dense(2, sj::Activation::tanh));
  sj::output("pred", model(x));
  return g;
}

STEPJIT_MODEL(broken) {
  sj::Graph g("broken");
  auto x = sj::input(g, "x", {sj::DType::f32, {4, 3}});
  auto w = sj::input(g, "w", {sj::DType::f32, {4, 3}});
  sj::output("pred", sj::matmul(x, w)); // inner dimensions 3 and 4 differ
  return g;
}

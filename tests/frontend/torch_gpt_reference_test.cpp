// sj::GPT against PyTorch: tests/frontend/torch_gpt_reference.py wrote a tiny GPT-2's weights
// (Hugging Face's names), tokens, logits, loss and every gradient as .npy files
// (tests/frontend/torch_gpt/); here the same weights go into sj::GPT's variables and its logits,
// loss and gradients must match, interpreted and compiled in f64 (1e-9 of the largest magnitude)
// and compiled in f32 (1e-4).
#include "frontend/gpt.h"
#include "frontend/gradients.h"
#include "runtime/compiled_step.h"
#include "runtime/interpreter.h"
#include "runtime/npy.h"
#include "tests/support/cli.h"
#include "tests/support/reference_arrays.h"

#include <cmath>
#include <gtest/gtest.h>

namespace sj {
namespace {

Tensor reference(const std::string& name) {
  return read_npy(test::source_path("tests/frontend/torch_gpt/" + name + ".npy"));
}

class TorchGPT : public ::testing::TestWithParam<DType> {};

TEST_P(TorchGPT, LogitsLossAndEveryGradient) {
  DType dtype = GetParam();
  Graph g("tiny_gpt");
  GPT gpt({.vocab = 11, .context = 8, .layers = 2, .heads = 2, .channels = 8, .dtype = dtype});
  Value x = input(g, "x", {DType::i32, {2, 5}});
  Value y = input(g, "y", {DType::i32, {2, 5}});
  Value logits = gpt(x);
  Value loss = gpt.loss(logits, y);
  output("logits", logits);
  output("loss", loss);
  std::vector<Value> vars = gpt.trainable_variables();
  std::vector<Value> grads = gradients(loss, vars);
  for (size_t i = 0; i < vars.size(); ++i)
    output("d." + vars[i].node().name, grads[i]);
  std::map<std::string, Tensor> feeds = {{"x", reference("x")}, {"y", reference("y")}};

  auto check = [&](const std::map<std::string, Tensor>& out, double tol, const std::string& how) {
    test::expect_close(out.at("logits"), reference("logits"), tol, how + " logits", 1e-3);
    test::expect_close(out.at("loss"), reference("loss"), tol, how + " loss", 1e-3);
    for (const Value& v : vars)
      test::expect_close(out.at("d." + v.node().name), reference("d." + v.node().name), tol,
                         how + " d." + v.node().name, 1e-3);
  };
  CompiledStep step = CompiledStep::compile(g);
  for (const Value& v : vars)
    step.set_variable(v.node().name, test::as_float(dtype, reference(v.node().name)));
  if (dtype == DType::f64) {
    Interpreter run(g);
    for (const Value& v : vars)
      run.set_variable(v.node().name, reference(v.node().name));
    check(run.run(feeds), 1e-9, "interpreted");
    check(step.run(feeds), 1e-9, "compiled");
  } else {
    check(step.run(feeds), 1e-4, "compiled f32");
  }
}

INSTANTIATE_TEST_SUITE_P(Dtypes, TorchGPT, ::testing::Values(DType::f64, DType::f32),
                         [](const auto& info) { return std::string(dtype_name(info.param)); });

} // namespace
} // namespace sj

// Convolution, pooling and batch normalization against PyTorch: tests/runtime/torch_reference.py
// wrote the inputs, the forward output y and the gradients of sum(y * w) of each case as .npy
// files (tests/runtime/torch_reference/); here the same computation is built from stepjit's ops
// and layers, and its values and gradients are compared, interpreted and compiled, in f64 (to
// 1e-10 of the largest magnitude) and compiled in f32 (to 1e-4: the f32 kernels).
#include "frontend/gradients.h"
#include "frontend/layers.h"
#include "runtime/compiled_step.h"
#include "runtime/interpreter.h"
#include "runtime/npy.h"
#include "tests/support/cli.h"
#include "tests/support/reference_arrays.h"

#include <cmath>
#include <functional>
#include <gtest/gtest.h>

namespace sj {
namespace {

Tensor reference(const std::string& case_name, const std::string& array) {
  return read_npy(
      test::source_path("tests/runtime/torch_reference/" + case_name + "_" + array + ".npy"));
}

/// The op of one case applied to its inputs (x first).
using Build = std::function<Value(const std::vector<Value>&)>;

struct TorchCase {
  std::string name;
  std::vector<std::string> inputs; // x, kernel, ...: each also has a d<name> gradient file
  Build build;
};

void PrintTo(const TorchCase& c, std::ostream* os) { *os << c.name; }

std::vector<TorchCase> torch_cases() {
  auto conv = [](Conv2dOptions o) {
    return [o](const std::vector<Value>& v) { return conv2d(v[0], v[1], o); };
  };
  auto max_pool = [](Pool2dOptions o) {
    return [o](const std::vector<Value>& v) { return max_pool2d(v[0], o); };
  };
  auto avg_pool = [](Pool2dOptions o) {
    return [o](const std::vector<Value>& v) { return avg_pool2d(v[0], o); };
  };
  const std::vector<std::string> xk = {"x", "kernel"};
  return {
      {"conv_same_stride2", xk, conv({.strides = {2, 2}, .padding = Padding::same()})},
      {"conv_dilated_groups", xk, conv({.dilations = {2, 1}, .groups = 2})},
      {"conv_depthwise_same", xk, conv({.padding = Padding::same(), .groups = 3})},
      {"conv_explicit_1x1_stride3", xk,
       conv({.strides = {3, 2}, .padding = Padding::explicit_pads(1, 0, 2, 1)})},
      {"conv_kernel_as_large_as_input", xk, conv({})},
      {"max_pool_same_3x3_stride2",
       {"x"},
       max_pool({.window = {3, 3}, .strides = {2, 2}, .padding = Padding::same()})},
      {"max_pool_2x2", {"x"}, max_pool({})},
      {"avg_pool_same_3x3_stride2",
       {"x"},
       avg_pool({.window = {3, 3}, .strides = {2, 2}, .padding = Padding::same()})},
      {"avg_pool_2x3_stride1", {"x"}, avg_pool({.window = {2, 3}, .strides = {1, 1}})},
  };
}

class TorchReference : public ::testing::TestWithParam<std::tuple<TorchCase, DType>> {};

TEST_P(TorchReference, ValuesAndGradients) {
  const auto& [c, dtype] = GetParam();
  Graph g(c.name);
  std::vector<Value> inputs;
  std::map<std::string, Tensor> feeds;
  for (const std::string& name : c.inputs) {
    feeds[name] = test::as_float(dtype, reference(c.name, name));
    inputs.push_back(input(g, name, feeds[name].type()));
  }
  Value y = c.build(inputs);
  output("y", y);
  Value loss = reduce_sum(y * constant(g, test::as_float(dtype, reference(c.name, "w"))));
  std::vector<Value> grads = gradients(loss, inputs);
  for (size_t i = 0; i < grads.size(); ++i)
    output("d" + c.inputs[i], grads[i]);

  auto check = [&](const std::map<std::string, Tensor>& out, double tol, const std::string& how) {
    test::expect_close(out.at("y"), reference(c.name, "y"), tol, how + " y");
    for (const std::string& name : c.inputs)
      test::expect_close(out.at("d" + name), reference(c.name, "d" + name), tol, how + " d" + name);
  };
  if (dtype == DType::f64) {
    check(Interpreter(g).run(feeds), 1e-10, "interpreted");
    check(CompiledStep::compile(g).run(feeds), 1e-10, "compiled");
  } else {
    for (int threads : {1, 2})
      check(CompiledStep::compile(g, {.threads = threads}).run(feeds), 1e-4,
            fmt::format("compiled f32 on {} threads", threads));
  }
}

INSTANTIATE_TEST_SUITE_P(Cases, TorchReference,
                         ::testing::Combine(::testing::ValuesIn(torch_cases()),
                                            ::testing::Values(DType::f64, DType::f32)),
                         [](const auto& info) {
                           return std::get<0>(info.param).name + "_" +
                                  std::string(dtype_name(std::get<1>(info.param)));
                         });

// The layer in training mode: batch statistics over N, H, W; moving statistics as Keras (from the
// biased variance; PyTorch's own running_var would use the unbiased one).
TEST(TorchReference, BatchNormalizationLayerInTraining) {
  const std::string c = "batch_norm";
  Graph g(c);
  Tensor x = reference(c, "x");
  Value xv = input(g, "x", x.type());
  BatchNormalization bn({.momentum = 0.99, .epsilon = 1e-3});
  Value y = bn(xv, CallMode::training);
  output("y", y);
  Value loss = reduce_sum(y * constant(g, reference(c, "w")));
  std::vector<Value> wrt = {xv, bn.variables()[0], bn.variables()[1]}; // x, gamma, beta
  std::vector<Value> grads = gradients(loss, wrt);
  const char* names[] = {"dx", "dgamma", "dbeta"};
  for (size_t i = 0; i < grads.size(); ++i)
    output(names[i], grads[i]);
  Interpreter run(g);
  run.set_variable("batch_normalization_0/gamma", reference(c, "gamma"));
  run.set_variable("batch_normalization_0/beta", reference(c, "beta"));
  CompiledStep step = CompiledStep::compile(g);
  step.set_variable("batch_normalization_0/gamma", reference(c, "gamma"));
  step.set_variable("batch_normalization_0/beta", reference(c, "beta"));
  auto interpreted = run.run({{"x", x}});
  auto compiled = step.run({{"x", x}});
  for (const char* out : {"y", "dx", "dgamma", "dbeta"}) {
    test::expect_close(interpreted.at(out), reference(c, out), 1e-10,
                       std::string("interpreted ") + out);
    test::expect_close(compiled.at(out), reference(c, out), 1e-10, std::string("compiled ") + out);
  }
  for (const char* stat : {"moving_mean", "moving_variance"}) {
    std::string var = std::string("batch_normalization_0/") + stat;
    test::expect_close(run.variable(var), reference(c, stat), 1e-12, var);
    test::expect_close(step.variable(var), reference(c, stat), 1e-12, var);
  }
}

} // namespace
} // namespace sj

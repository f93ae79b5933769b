// A step's outputs (runtime/outputs.h): an unknown name or a non-scalar read as a scalar is an
// sj::Error at the caller's line listing what there is, from both engines.
#include "graph/parse.h"
#include "runtime/compiled_step.h"
#include "runtime/interpreter.h"
#include "tests/support/cli.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace sj {
namespace {

using ::testing::HasSubstr;

Graph seed() {
  std::string path = test::source_path("examples/models/seed.sj");
  return parse(test::read_file(path), path);
}

std::map<std::string, Tensor> feeds() {
  Tensor x({DType::f32, {32, 100}}), y({DType::f32, {32, 1}});
  for (int64_t i = 0; i < x.num_elements(); ++i)
    x.data<float>()[i] = float(i % 7) * 0.1f;
  return {{"x", x}, {"y", y}};
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected an sj::Error";
  return "";
}

void check(const Outputs& out) {
  EXPECT_EQ(out.scalar<float>("loss"), out.at("loss").data<float>()[0]);
  int line = __LINE__ + 1;
  std::string e = error_of([&] { out.at("los"); });
  EXPECT_THAT(e, HasSubstr(fmt::format("outputs_test.cpp:{}:", line)));
  EXPECT_THAT(e, HasSubstr("error: the step has no output named 'los' (its outputs: loss (f32[]), "
                           "pred (f32[32,1]))"));
  EXPECT_THAT(error_of([&] { out.scalar<float>("pred"); }),
              HasSubstr("scalar(\"pred\"): output 'pred' is f32[32,1], not a scalar"));
  EXPECT_THAT(error_of([&] { out.scalar<double>("loss"); }),
              HasSubstr("Tensor::data<double>(): the tensor is f32[]"));
  // Still a std::map: iteration and find work as they did.
  EXPECT_EQ(out.size(), 2u);
  EXPECT_TRUE(out.find("pred") != out.end());
}

TEST(Outputs, CompiledStepsNameTheOutputsTheyHave) {
  auto step = CompiledStep::compile(seed());
  check(step.run(feeds()));
}

TEST(Outputs, TheInterpreterSaysTheSame) {
  Interpreter interpreter(seed());
  check(interpreter.run(feeds()));
}

} // namespace
} // namespace sj

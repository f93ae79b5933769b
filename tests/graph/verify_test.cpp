// The verifier: graphs built through Graph::add or parsed from text pass; graphs a faulty pass
// could leave behind fail at the offending node, naming it and the cause.
#include "graph/builder.h"
#include "graph/parse.h"
#include "graph/verify.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <limits>

namespace sj {

namespace {

// ---- test-only access to Graph's private members -------------------------------------------
// Graph's public API only ever builds valid graphs, but the verifier exists for graphs that
// passes rewrite. To build the broken graphs a faulty pass could produce without widening
// Graph's interface, the tests reach its private members through explicit template
// instantiation, which is allowed to name private members ([temp.spec.general]/6). Test code
// only: nothing outside this file uses it.
template <typename Tag, typename Tag::type Member>
struct PrivateAccess {
  friend typename Tag::type member_of(Tag) { return Member; }
};
struct NodesTag {
  using type = std::vector<Node> Graph::*;
  friend type member_of(NodesTag);
};
struct OutputsTag {
  using type = std::vector<Output> Graph::*;
  friend type member_of(OutputsTag);
};
template struct PrivateAccess<NodesTag, &Graph::nodes_>;
template struct PrivateAccess<OutputsTag, &Graph::outputs_>;

std::vector<Node>& nodes_of(Graph& g) { return g.*member_of(NodesTag{}); }
std::vector<Output>& outputs_of(Graph& g) { return g.*member_of(OutputsTag{}); }

// ---------------------------------------------------------------------------------------------

using ::testing::HasSubstr;

// A valid graph to break: nodes %x(0) %y(1) %w(2) %0(3)=matmul %s(4)=reduce_sum %1(5)=assign.
Graph sample() {
  return parse(R"(graph g {
  %x = input : f32[4,3]
  %y = input : f32[3,2]
  %w = variable : f32[3,2]
  %0 = matmul(%x, %w) : f32[4,2]
  %s = reduce_sum(%0) {axes = [0], keepdims = true} : f32[1,2]
  %1 = assign(%w, %y) : f32[3,2]
  output s = %s
}
)",
               "sample.sj");
}

// Runs verify(g), which must throw; returns the error.
Error verify_error(const Graph& g) {
  try {
    verify(g);
  } catch (const Error& e) {
    return e;
  }
  ADD_FAILURE() << "verify accepted the graph";
  return Error({}, "");
}

TEST(Verify, AcceptsGraphsBuiltThroughTheApi) {
  EXPECT_NO_THROW(verify(sample()));
  EXPECT_NO_THROW(verify(Graph("empty")));

  Graph g("built");
  auto x = input(g, "x", {DType::f32, {8, 4}});
  auto labels = input(g, "labels", {DType::i32, {8}});
  auto w = variable(g, "w", {DType::f32, {4, 3}}, Init::he_normal(3));
  auto logits = matmul(x, w);
  auto loss = named(softmax_cross_entropy(logits, labels), "loss");
  auto c = constant(g, Tensor::from<float>({2}, {std::numeric_limits<float>::quiet_NaN(), 1}));
  auto k = variable(g, "k", {DType::f64, {}}, Init::constant(std::nan("")));
  assign(w, w - 0.1 * w);
  output("loss", loss);
  output("c", c);
  output("k", k);
  EXPECT_NO_THROW(verify(g));
}

TEST(Verify, ErrorsPointAtTheNodeAndNameIt) {
  Graph g = sample();
  nodes_of(g)[3].type = {DType::f32, {4, 3}};
  Error e = verify_error(g);
  EXPECT_EQ(e.location(), (Location{"sample.sj", 5, 3}));
  EXPECT_THAT(e.message(), HasSubstr("graph 'g', value %0: "));
  EXPECT_THAT(e.message(), HasSubstr("matmul: the stored type f32[4,3] differs from the type "
                                     "f32[4,2] the op's rule infers"));
}

TEST(Verify, InvalidGraphName) {
  EXPECT_THAT(verify_error(Graph("not a name")).message(),
              HasSubstr("graph 'not a name': not a valid name"));
}

TEST(Verify, OperandsMustReferToEarlierNodes) {
  Graph later = sample();
  nodes_of(later)[3].operands[1] = 4;
  EXPECT_THAT(verify_error(later).message(),
              HasSubstr("value %0: matmul: operand 1 refers to %s, which is not defined before "
                        "this node"));
  Graph self = sample();
  nodes_of(self)[3].operands[0] = 3;
  EXPECT_THAT(verify_error(self).message(), HasSubstr("operand 0 refers to %0"));
  Graph outside = sample();
  nodes_of(outside)[3].operands[0] = 99;
  EXPECT_THAT(verify_error(outside).message(), HasSubstr("operand 0 refers to value #99"));
}

TEST(Verify, OperandCount) {
  Graph g = sample();
  nodes_of(g)[3].operands.push_back(0);
  EXPECT_THAT(verify_error(g).message(), HasSubstr("matmul: takes 2 operands, got 3"));
}

TEST(Verify, UnknownOp) {
  Graph g = sample();
  nodes_of(g)[3].op = static_cast<Op>(kNumOps + 5);
  EXPECT_THAT(verify_error(g).message(), HasSubstr("is not in the op table"));
}

TEST(Verify, AttributesMustBeCompleteInOrderAndValid) {
  Graph missing_default = sample();
  nodes_of(missing_default)[4].attrs = Attrs{{"axes", std::vector<int64_t>{0}}};
  EXPECT_THAT(verify_error(missing_default).message(),
              HasSubstr("reduce_sum: the attributes [axes] are not the schema's complete list in "
                        "order [axes, keepdims]"));

  Graph out_of_order = sample();
  nodes_of(out_of_order)[4].attrs = Attrs{{"keepdims", true}, {"axes", std::vector<int64_t>{0}}};
  EXPECT_THAT(verify_error(out_of_order).message(), HasSubstr("[keepdims, axes]"));

  Graph missing_required = sample();
  nodes_of(missing_required)[4].attrs = Attrs{{"keepdims", true}};
  EXPECT_THAT(verify_error(missing_required).message(),
              HasSubstr("missing the required attribute 'axes'"));

  Graph wrong_kind = sample();
  nodes_of(wrong_kind)[4].attrs = Attrs{{"axes", int64_t{0}}, {"keepdims", true}};
  EXPECT_THAT(verify_error(wrong_kind).message(),
              HasSubstr("attribute 'axes' must be a integer list"));

  Graph unknown = sample();
  nodes_of(unknown)[3].attrs.set("transpose_c", true);
  EXPECT_THAT(verify_error(unknown).message(), HasSubstr("matmul: has no attribute 'transpose_c'"));

  Graph bad_choice = sample();
  nodes_of(bad_choice)[2].attrs.set("init", std::string("xavier"));
  EXPECT_THAT(verify_error(bad_choice).message(), HasSubstr("'init' is 'xavier'"));
}

TEST(Verify, AttributeValuesAreCheckedByTheShapeRule) {
  Graph g = sample();
  nodes_of(g)[4].attrs.set("axes", std::vector<int64_t>{5});
  EXPECT_THAT(verify_error(g).message(), HasSubstr("axes entry = 5 is out of range for rank 2"));
}

TEST(Verify, StoredTypeMustMatchTheRule) {
  Graph dtype = sample();
  nodes_of(dtype)[4].type.dtype = DType::f64;
  EXPECT_THAT(verify_error(dtype).message(), HasSubstr("stored type f64[1,2] differs"));
}

TEST(Verify, DeclaredTypesMustBeValid) {
  Graph rank = sample();
  nodes_of(rank)[0].type = {DType::f32, {1, 1, 1, 1, 1, 1, 1}};
  EXPECT_THAT(verify_error(rank).message(), HasSubstr("has rank 7, the most is 6"));

  Graph negative = sample();
  nodes_of(negative)[0].type = {DType::f32, {-1, 3}};
  EXPECT_THAT(verify_error(negative).message(), HasSubstr("negative dimension"));
}

TEST(Verify, ConstantValueMustMatchItsType) {
  Graph g("c");
  constant(g, Tensor::from<float>({2}, {1, 2}));
  nodes_of(g)[0].type = {DType::f32, {3}};
  EXPECT_THAT(verify_error(g).message(),
              HasSubstr("the value has type f32[2] but the constant is declared f32[3]"));
}

TEST(Verify, NamesMustBeValidUniqueAndPresentOnInputsAndVariables) {
  Graph invalid = sample();
  nodes_of(invalid)[3].name = "3d";
  EXPECT_THAT(verify_error(invalid).message(), HasSubstr("'3d' is not a valid name"));

  Graph duplicate = sample();
  nodes_of(duplicate)[1].name = "x";
  EXPECT_THAT(verify_error(duplicate).message(),
              HasSubstr("the name 'x' is already used by another value"));

  Graph unnamed = sample();
  nodes_of(unnamed)[2].name = "";
  EXPECT_THAT(verify_error(unnamed).message(), HasSubstr("variable: needs a name"));

  // A node renamed behind the graph's back: the graph's name index no longer agrees.
  Graph renamed = sample();
  nodes_of(renamed)[3].name = "fresh";
  EXPECT_THAT(verify_error(renamed).message(),
              HasSubstr("the graph's name index does not map 'fresh' to this node"));
}

TEST(Verify, AtMostOneAssignPerVariableAndOnlyToVariables) {
  Graph twice = parse(R"(graph g {
  %w = variable : f32[2]
  %v = variable : f32[2]
  %0 = assign(%w, %v) : f32[2]
  %1 = assign(%v, %w) : f32[2]
}
)");
  nodes_of(twice)[3].operands[0] = 0;
  Error e = verify_error(twice);
  EXPECT_THAT(e.message(), HasSubstr("value %1: assign(f32[2], f32[2]): variable 'w' is already "
                                     "assigned"));
  EXPECT_EQ(e.location().line, 5u);

  Graph not_variable = sample();
  nodes_of(not_variable)[5].operands[0] = 1; // %y, an input of the same type
  EXPECT_THAT(verify_error(not_variable).message(),
              HasSubstr("the target must be a variable (only variables hold state), but it is "
                        "input 'y'"));
}

TEST(Verify, Outputs) {
  Graph dangling = sample();
  outputs_of(dangling)[0].value = 42;
  EXPECT_THAT(verify_error(dangling).message(),
              HasSubstr("graph 'g': output 's': %42 is not a value of graph 'g'"));

  Graph duplicate = sample();
  outputs_of(duplicate).push_back({"s", 0});
  Error e = verify_error(duplicate);
  EXPECT_THAT(e.message(), HasSubstr("the name 's' is already an output"));
  EXPECT_EQ(e.location().line, 2u); // the line of the output's value, %x

  Graph invalid = sample();
  outputs_of(invalid)[0].name = "no good";
  EXPECT_THAT(verify_error(invalid).message(), HasSubstr("'no good' is not a valid name"));
}

TEST(Verify, AFixedGraphVerifiesAgain) {
  // Breaking and restoring a node leaves a valid graph: the verifier keeps no state.
  Graph g = sample();
  TensorType saved = g.node(3).type;
  nodes_of(g)[3].type = {DType::f32, {1}};
  EXPECT_THROW(verify(g), Error);
  nodes_of(g)[3].type = saved;
  EXPECT_NO_THROW(verify(g));
}

} // namespace
} // namespace sj

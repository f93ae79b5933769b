// The text form is untrusted input: every malformed, truncated or ill-typed text throws
// sj::Error at file:line:column with a message naming the cause, and nothing else ever
// escapes the parser.
#include "graph/builder.h"
#include "graph/parse.h"
#include "graph/print.h"
#include "graph/verify.h"

#include <algorithm>
#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <random>

namespace sj {
namespace {

// A graph named `g` holding `lines` (its first line is line 2).
std::string body(std::string_view lines) { return "graph g {\n" + std::string(lines) + "}\n"; }

// Succeeds when parsing `marked` without its one '$' throws sj::Error whose message contains
// every one of `parts`, located in file "t.sj" at the character that followed the '$'. The
// marker keeps each expected position visible in the test's own text.
::testing::AssertionResult fails_here(std::string_view marked,
                                      std::initializer_list<std::string_view> parts) {
  size_t at = marked.find('$');
  if (at == std::string_view::npos || marked.find('$', at + 1) != std::string_view::npos)
    return ::testing::AssertionFailure() << "the test text needs exactly one '$' marker";
  size_t line_start =
      marked.rfind('\n', at) == std::string_view::npos ? 0 : marked.rfind('\n', at) + 1;
  Location expected{
      "t.sj", static_cast<uint32_t>(1 + std::count(marked.begin(), marked.begin() + at, '\n')),
      static_cast<uint32_t>(at - line_start + 1)};
  std::string text = std::string(marked.substr(0, at)) + std::string(marked.substr(at + 1));
  try {
    Graph g = parse(text, "t.sj");
    return ::testing::AssertionFailure() << "parsed without error:\n" << print(g);
  } catch (const Error& e) {
    auto fail = ::testing::AssertionFailure();
    bool ok = e.location() == expected;
    if (!ok) fail << "at " << e.location().str() << ", expected " << expected.str() << "; ";
    for (std::string_view part : parts)
      if (e.message().find(part) == std::string::npos) {
        fail << "the message lacks \"" << part << "\"; ";
        ok = false;
      }
    if (ok) return ::testing::AssertionSuccess();
    return fail << "got: " << e.what();
  }
}

// ---- file structure ------------------------------------------------------------------------

TEST(ParseErrors, EmptyInput) {
  EXPECT_TRUE(fails_here("$", {"unexpected end of input", "expected 'graph'"}));
  EXPECT_TRUE(fails_here("# only a comment\n\n$", {"end of input", "'graph'"}));
}

TEST(ParseErrors, MissingGraphKeyword) {
  EXPECT_TRUE(fails_here("$grph g {\n}\n", {"unexpected 'grph'", "expected 'graph'"}));
  EXPECT_TRUE(fails_here("$%x = input : f32[2]\n", {"unexpected '%x'", "'graph'"}));
}

TEST(ParseErrors, MissingGraphName) {
  EXPECT_TRUE(fails_here("graph ${\n}\n", {"unexpected '{'", "the graph's name"}));
  EXPECT_TRUE(fails_here("graph $12 {\n}\n", {"number '12'", "the graph's name"}));
}

TEST(ParseErrors, MissingOpeningBrace) {
  EXPECT_TRUE(fails_here("graph g$\n}\n", {"unexpected end of line", "expected '{'"}));
  EXPECT_TRUE(fails_here("graph g $(\n}\n", {"unexpected '('", "expected '{'"}));
}

TEST(ParseErrors, MissingClosingBrace) {
  EXPECT_TRUE(
      fails_here("graph g {\n  %x = input : f32[2]\n$", {"unexpected end of input", "'}'"}));
  EXPECT_TRUE(
      fails_here("graph g {\n  %x = input : f32[2]$", {"unexpected end of input", "closing '}'"}));
  EXPECT_TRUE(fails_here("graph g {$", {"unexpected end of input", "'}'"}));
}

TEST(ParseErrors, TextAfterTheClosingBrace) {
  EXPECT_TRUE(fails_here("graph g {\n}\n$graph h {\n}\n",
                         {"unexpected 'graph' after the graph's closing '}'", "one graph"}));
  EXPECT_TRUE(fails_here("graph g {\n} $}\n", {"unexpected '}' after the graph's closing"}));
  EXPECT_TRUE(fails_here("graph g {\n}\n\n  $%x\n", {"'%x' after the graph's closing"}));
  // Comments and blank lines are fine there.
  EXPECT_NO_THROW(parse("graph g {\n}  # done\n\n# more\n\n"));
}

TEST(ParseErrors, OneNodePerLine) {
  EXPECT_TRUE(fails_here(body("  %x = input : f32[2] $%y = input : f32[2]\n"),
                         {"unexpected '%y'", "end of the line"}));
  EXPECT_TRUE(fails_here(body("  %x = input : f32[2]\n  output a = %x $output b = %x\n"),
                         {"unexpected 'output'", "end of the line"}));
  EXPECT_TRUE(fails_here(body("  %x = input : f32[2]\n  %0 = relu(%x) : f32[2] $}\n"),
                         {"unexpected '}'", "end of the line"}));
}

TEST(ParseErrors, LineThatIsNeitherNodeNorOutput) {
  EXPECT_TRUE(fails_here(body("  $x = input : f32[2]\n"),
                         {"unexpected 'x'", "a node ('%name = op ...')", "an output"}));
  EXPECT_TRUE(fails_here(body("  $= input : f32[2]\n"), {"unexpected '='"}));
  EXPECT_TRUE(fails_here(body("  $3\n"), {"unexpected number '3'"}));
}

// ---- lexical errors ------------------------------------------------------------------------

TEST(ParseErrors, UnexpectedCharacters) {
  EXPECT_TRUE(fails_here(body("  %x = input : f32[2] $@\n"), {"unexpected character '@'"}));
  EXPECT_TRUE(fails_here(body("  %x = input : f32[2]$;\n"), {"unexpected character ';'"}));
  EXPECT_TRUE(fails_here(std::string_view("graph g {\n  %x = input $\0: f32[2]\n}\n", 36),
                         {"unexpected character '\\x00'"}));
  EXPECT_TRUE(fails_here(body("  %x = input : f32[2] $\xff\n"), {"unexpected character '\\xff'"}));
  EXPECT_TRUE(
      fails_here("graph g {\n  %x = input : $\"f32\"[2]\n}\n", {"unexpected character '\"'"}));
}

TEST(ParseErrors, MalformedValueLabels) {
  EXPECT_TRUE(fails_here(body("  $%1x = input : f32[2]\n"), {"malformed value label '%1x'"}));
  EXPECT_TRUE(
      fails_here(body("  $% x = input : f32[2]\n"), {"expected a value name or number after '%'"}));
  EXPECT_TRUE(fails_here("graph g {\n  $%", {"after '%'"}));
}

TEST(ParseErrors, MalformedNumbers) {
  auto in_type = [](std::string_view dim) {
    return body(fmt::format("  %x = input : f32[${}]\n", dim));
  };
  EXPECT_TRUE(fails_here(in_type("1.2.3"), {"malformed number '1.2.3'"}));
  EXPECT_TRUE(fails_here(in_type("12abc"), {"malformed number '12abc'"}));
  EXPECT_TRUE(fails_here(in_type("1e"), {"malformed number '1e'", "exponent has no digits"}));
  EXPECT_TRUE(fails_here(in_type("1e+"), {"malformed number", "exponent"}));
  EXPECT_TRUE(fails_here(in_type("-"), {"malformed number '-'", "digits after '-'"}));
  EXPECT_TRUE(fails_here(in_type("- 2"), {"malformed number '-'"}));
  EXPECT_TRUE(fails_here(in_type("-nan"), {"malformed number '-nan'"}));
  EXPECT_TRUE(fails_here(in_type("-infinity"), {"malformed number '-infinity'"}));
}

TEST(ParseErrors, LongTokensAreQuotedShortly) {
  std::string name(100000, 'q');
  try {
    parse(body("  %x = " + name + " : f32[2]\n"));
    FAIL() << "parsed";
  } catch (const Error& e) {
    EXPECT_THAT(e.message(), ::testing::HasSubstr("unknown op 'qqqq"));
    EXPECT_LT(e.message().size(), 200u);
  }
}

// ---- ops, operands, values -----------------------------------------------------------------

TEST(ParseErrors, UnknownOpSuggestsTheClosest) {
  const std::string x = "  %a = input : f32[2,2]\n";
  EXPECT_TRUE(fails_here(body(x + "  %0 = $matmull(%a, %a) : f32[2,2]\n"),
                         {"unknown op 'matmull'", "closest: matmul"}));
  EXPECT_TRUE(fails_here(body(x + "  %0 = $rellu(%a) : f32[2,2]\n"),
                         {"unknown op 'rellu'", "closest: relu"}));
  EXPECT_TRUE(fails_here(body(x + "  %0 = $reduce_summ(%a) {axes = [0]} : f32[2]\n"),
                         {"closest: reduce_sum"}));
  EXPECT_TRUE(
      fails_here(body("  %x = $inputs : f32[2]\n"), {"unknown op 'inputs'", "closest: input"}));
  EXPECT_TRUE(fails_here(body("  %x = $3 : f32[2]\n"), {"unexpected number '3'", "op name"}));
}

TEST(ParseErrors, UndefinedOperand) {
  EXPECT_TRUE(fails_here(body("  %x = input : f32[2]\n  %0 = add(%x, $%nope) : f32[2]\n"),
                         {"undefined value '%nope'"}));
  // Operands must come from earlier lines: a later definition does not help.
  EXPECT_TRUE(fails_here(body("  %x = input : f32[2]\n  %0 = relu($%1) : f32[2]\n"
                              "  %1 = relu(%x) : f32[2]\n"),
                         {"undefined value '%1'", "earlier line"}));
  // A node cannot use itself.
  EXPECT_TRUE(fails_here(body("  %0 = relu($%0) : f32[2]\n"), {"undefined value '%0'"}));
}

TEST(ParseErrors, DuplicateValueNames) {
  EXPECT_TRUE(fails_here(body("  %x = input : f32[2]\n  $%x = input : f32[3]\n"),
                         {"value '%x' is already defined on line 2"}));
  EXPECT_TRUE(fails_here(body("  %x = input : f32[2]\n  %0 = relu(%x) : f32[2]\n"
                              "  %y = input : f32[2]\n  $%0 = neg(%x) : f32[2]\n"),
                         {"value '%0' is already defined on line 3"}));
}

TEST(ParseErrors, WrongOperandCount) {
  const std::string x = "  %x = input : f32[2]\n";
  EXPECT_TRUE(fails_here(body(x + "  $%0 = add(%x) : f32[2]\n"), {"add: takes 2 operands, got 1"}));
  EXPECT_TRUE(
      fails_here(body(x + "  $%0 = relu(%x, %x) : f32[2]\n"), {"relu: takes 1 operand, got 2"}));
  EXPECT_TRUE(fails_here(body(x + "  $%0 = relu : f32[2]\n"), {"takes 1 operand, got 0"}));
  EXPECT_TRUE(fails_here(body(x + "  $%0 = concat() {axis = 0} : f32[2]\n"),
                         {"takes one or more operands, got 0"}));
  EXPECT_TRUE(
      fails_here(body(x + "  $%y = input(%x) : f32[2]\n"), {"input: takes 0 operands, got 1"}));
}

TEST(ParseErrors, MalformedOperandLists) {
  const std::string x = "  %x = input : f32[2]\n";
  EXPECT_TRUE(fails_here(body(x + "  %0 = relu(%x $: f32[2]\n"), {"unexpected ':'", "',' or ')'"}));
  EXPECT_TRUE(
      fails_here(body(x + "  %0 = add(%x,$) : f32[2]\n"), {"unexpected ')'", "an operand"}));
  EXPECT_TRUE(fails_here(body(x + "  %0 = add(%x $%x) : f32[2]\n"), {"',' or ')'"}));
  EXPECT_TRUE(fails_here(body(x + "  %0 = relu($x) : f32[2]\n"),
                         {"unexpected 'x'", "an operand ('%name')"}));
  EXPECT_TRUE(fails_here(body(x + "  %0 = relu $%x : f32[2]\n"),
                         {"unexpected '%x'", "':' and the result type"}));
}

TEST(ParseErrors, UnnamedInputOrVariable) {
  EXPECT_TRUE(fails_here(body("  $%0 = input : f32[2]\n"), {"input: needs a name"}));
  EXPECT_TRUE(fails_here(body("  $%5 = variable : f32[2]\n"), {"variable: needs a name"}));
}

// ---- types ---------------------------------------------------------------------------------

TEST(ParseErrors, MissingOrMalformedType) {
  EXPECT_TRUE(fails_here(body("  %x = input$\n"), {"end of line", "':' and the result type"}));
  EXPECT_TRUE(fails_here(body("  %x = input :$\n"), {"end of line", "a type"}));
  EXPECT_TRUE(fails_here(body("  %x = input : f32$\n"), {"expected '['", "f32[] is a scalar"}));
  EXPECT_TRUE(fails_here(body("  %x = input : f32[2$\n"), {"end of line", "',' or ']'"}));
  EXPECT_TRUE(fails_here(body("  %x = input : f32[2,$]\n"), {"unexpected ']'", "dimension"}));
  EXPECT_TRUE(fails_here(body("  %x = input : f32[$2.0]\n"), {"number '2.0'", "a dimension"}));
  EXPECT_TRUE(fails_here(body("  %x = input : f32[$n]\n"), {"unexpected 'n'", "dimension"}));
  EXPECT_TRUE(fails_here(body("  %x = input : $[2]\n"), {"unexpected '['", "a type"}));
}

TEST(ParseErrors, BadDtype) {
  EXPECT_TRUE(fails_here(body("  %x = input : $f16[2]\n"),
                         {"unknown dtype 'f16'", "f32, f64, i32, i64 or bool"}));
  EXPECT_TRUE(fails_here(body("  %x = input : $float[2]\n"), {"unknown dtype 'float'"}));
  EXPECT_TRUE(fails_here(body("  %x = input : $F32[2]\n"), {"unknown dtype 'F32'"}));
}

TEST(ParseErrors, NegativeDimension) {
  EXPECT_TRUE(fails_here(body("  %x = input : f32[2,$-3]\n"), {"negative dimension -3"}));
}

TEST(ParseErrors, AbsurdShapes) {
  EXPECT_TRUE(fails_here(body("  %x = input : $f32[1048576,1048576,2]\n"),
                         {"[1048576,1048576,2]", "more than 2^40 elements"}));
  EXPECT_TRUE(fails_here(body("  %x = input : f32[$99999999999999999999]\n"),
                         {"'99999999999999999999' is out of range"}));
  EXPECT_TRUE(fails_here(body("  %x = input : $f32[9223372036854775807,9223372036854775807]\n"),
                         {"more than 2^40 elements"}));
  EXPECT_TRUE(
      fails_here(body("  %x = input : f32[$" + std::string(20000, '1') + "]\n"), {"out of range"}));
  // A zero dimension does not excuse the others: strides must stay representable too.
  EXPECT_TRUE(fails_here(body("  %x = input : $f32[0,9223372036854775807]\n"),
                         {"has no elements, but its other dimensions multiply to more than 2^40"}));
  EXPECT_NO_THROW(parse(body("  %x = input : f32[0,1099511627776]\n")));
}

TEST(ParseErrors, RankAboveSix) {
  EXPECT_TRUE(fails_here(body("  %x = input : f32[1,1,1,1,1,1,$1]\n"), {"more than 6 dimensions"}));
  EXPECT_TRUE(
      fails_here(body("  %x = input : f32[1,2,3,4,5,6,$7,8,9,10]\n"), {"more than 6 dimensions"}));
  EXPECT_NO_THROW(parse(body("  %x = input : f32[1,1,1,1,1,1]\n")));
}

TEST(ParseErrors, WrittenTypeDiffersFromInferred) {
  EXPECT_TRUE(fails_here(body("  %x = input : f32[2]\n  $%0 = relu(%x) : f32[3]\n"),
                         {"relu(f32[2])", "written result type f32[3]", "inferred type f32[2]"}));
  EXPECT_TRUE(fails_here(body("  %x = input : f32[2]\n  $%0 = greater(%x, %x) : f32[2]\n"),
                         {"f32[2]", "bool[2]"}));
}

TEST(ParseErrors, ShapeRuleErrorsMatchTheBuilderAtTheNodesLine) {
  // The text and the C++ API run the same rule, so the message is the same.
  Graph built;
  auto x = input(built, "x", {DType::f32, {32, 100}});
  auto w = input(built, "w", {DType::f32, {10, 100}});
  std::string builder_message;
  try {
    matmul(x, w);
  } catch (const Error& e) {
    builder_message = e.message();
  }
  ASSERT_THAT(builder_message, ::testing::HasSubstr("inner dimensions differ"));
  const std::string text = body("  %x = input : f32[32,100]\n"
                                "  %w = input : f32[10,100]\n"
                                "\n"
                                "    $%h = matmul(%x, %w) : f32[32,10]\n");
  EXPECT_TRUE(fails_here(text, {builder_message}));
  EXPECT_TRUE(fails_here(text, {"did you mean transpose_b = true?"}));

  EXPECT_TRUE(fails_here(body("  %a = input : f32[2,3]\n  %b = input : f32[4]\n"
                              "  $%0 = add(%a, %b) : f32[2,3]\n"),
                         {"add(f32[2,3], f32[4])", "do not broadcast"}));
  EXPECT_TRUE(fails_here(body("  %a = input : i32[2]\n  $%0 = exp(%a) : i32[2]\n"),
                         {"exp(i32[2])", "must be floating point"}));
  EXPECT_TRUE(fails_here(body("  %a = input : f32[2,3]\n"
                              "  $%0 = reduce_sum(%a) {axes = [2]} : f32[2]\n"),
                         {"axes entry = 2 is out of range for rank 2"}));
}

// ---- attributes ----------------------------------------------------------------------------

TEST(ParseErrors, UnknownAttribute) {
  const std::string x = "  %x = input : f32[2,3]\n";
  EXPECT_TRUE(fails_here(body(x + "  %0 = relu(%x) {$alpha = 1} : f32[2,3]\n"),
                         {"relu has no attribute 'alpha'", "it takes none"}));
  EXPECT_TRUE(fails_here(body(x + "  %0 = reduce_sum(%x) {$axis = [0]} : f32[3]\n"),
                         {"has no attribute 'axis'", "it takes: axes, keepdims"}));
}

TEST(ParseErrors, DuplicateAttribute) {
  EXPECT_TRUE(fails_here(body("  %x = input : f32[2,3]\n"
                              "  %0 = reduce_sum(%x) {axes = [0], $axes = [1]} : f32[3]\n"),
                         {"attribute 'axes' is given twice"}));
  EXPECT_TRUE(fails_here(body("  %c = constant {value = 1.0, $value = 2.0} : f32[]\n"),
                         {"'value' is given twice"}));
}

TEST(ParseErrors, PaddingAsPairs) {
  const std::string x = "  %x = input : f32[1,4,4,1]\n  %k = input : f32[3,3,1,2]\n";
  EXPECT_TRUE(fails_here(body(x + "  %0 = conv2d(%x, %k) {padding = [[1, 1], [1$]]} : "
                                  "f32[1,4,4,2]\n"),
                         {"expected ','", "between the two numbers of a pair"}));
  EXPECT_TRUE(fails_here(body(x + "  %0 = conv2d(%x, %k) {padding = [[1, 1], [1, 1$, 1]]} : "
                                  "f32[1,4,4,2]\n"),
                         {"']' closing a pair of two numbers"}));
  EXPECT_TRUE(fails_here(body(x + "  %0 = conv2d(%x, %k) {padding = [[1, 1], [0, 0]], $pads = "
                                  "[1, 1, 0, 0]} : f32[1,4,2,2]\n"),
                         {"attribute 'pads' is given twice"}));
  EXPECT_TRUE(fails_here(body(x + "  %0 = conv2d(%x, %k) {pads = [1, 1, 0, 0], $padding = [[1, 1], "
                                  "[0, 0]]} : f32[1,4,2,2]\n"),
                         {"attribute 'pads' is given twice"}));
  // A list of pairs of the wrong length is the shape rule's error, at the node.
  EXPECT_TRUE(fails_here(body(x + "  $%0 = conv2d(%x, %k) {padding = [[1, 1]]} : f32[1,4,2,2]\n"),
                         {"pads = [1, 1] must have 4 entries, [top, bottom, left, right]"}));
}

TEST(ParseErrors, AttributeOfTheWrongKind) {
  const std::string x = "  %x = input : f32[2,3]\n";
  EXPECT_TRUE(fails_here(body(x + "  %0 = reduce_sum(%x) {axes = $0} : f32[3]\n"),
                         {"reduce_sum: attribute 'axes' must be an integer list", "number '0'"}));
  EXPECT_TRUE(fails_here(body(x + "  %0 = reduce_sum(%x) {axes = [$0.5]} : f32[3]\n"),
                         {"number '0.5'", "expected an integer"}));
  EXPECT_TRUE(fails_here(body(x + "  %0 = reduce_sum(%x) {axes = [0], keepdims = $1} : f32[1,3]\n"),
                         {"'keepdims' must be true or false", "number '1'"}));
  EXPECT_TRUE(fails_here(body(x + "  %0 = softmax(%x) {axis = $1.0} : f32[2,3]\n"),
                         {"softmax: attribute 'axis' must be an integer", "'1.0'"}));
  EXPECT_TRUE(fails_here(body(x + "  %0 = cast(%x) {to = $float} : f32[2,3]\n"),
                         {"'to' must be a dtype (f32, f64, i32, i64 or bool)", "'float'"}));
  EXPECT_TRUE(
      fails_here(body("  %w = variable {init = $3} : f32[2]\n"), {"'init' must be a name"}));
  EXPECT_TRUE(fails_here(body("  %w = variable {low = $zero} : f32[2]\n"),
                         {"'low' must be a number", "'zero'"}));
  EXPECT_TRUE(fails_here(body("  %w = variable {init = $[1]} : f32[2]\n"), {"must be a name"}));
}

TEST(ParseErrors, AttributeNameOutsideItsChoices) {
  EXPECT_TRUE(fails_here(body("  $%w = variable {init = xavier} : f32[2]\n"),
                         {"attribute 'init' is 'xavier'", "expected one of: zeros, ones"}));
}

TEST(ParseErrors, MissingRequiredAttribute) {
  EXPECT_TRUE(fails_here(body("  %x = input : f32[2,3]\n  $%0 = reduce_sum(%x) : f32[]\n"),
                         {"missing the required attribute 'axes'"}));
  EXPECT_TRUE(
      fails_here(body("  $%c = constant : f32[]\n"), {"missing the required attribute 'value'"}));
}

TEST(ParseErrors, MalformedAttributeLists) {
  const std::string x = "  %x = input : f32[2,3]\n";
  EXPECT_TRUE(fails_here(body(x + "  %0 = softmax(%x) {axis $0} : f32[2,3]\n"),
                         {"unexpected number '0'", "'='"}));
  EXPECT_TRUE(fails_here(body(x + "  %0 = softmax(%x) {axis = 0 $: f32[2,3]\n"),
                         {"unexpected ':'", "',' or '}'"}));
  EXPECT_TRUE(fails_here(body(x + "  %0 = softmax(%x) {$, axis = 0} : f32[2,3]\n"),
                         {"unexpected ','", "an attribute name"}));
  // Attribute lists do not continue on the next line.
  EXPECT_TRUE(fails_here(body(x + "  %0 = softmax(%x) {axis = 0,$\n    } : f32[2,3]\n"),
                         {"unexpected end of line", "an attribute name"}));
  EXPECT_TRUE(fails_here(body(x + "  %0 = transpose(%x) {perm = [1, 0$} : f32[3,2]\n"),
                         {"unexpected '}'", "',' or ']'"}));
}

TEST(ParseErrors, IntegerAndRealAttributesOutOfRange) {
  EXPECT_TRUE(fails_here(body("  %i = input : i32[2]\n"
                              "  %0 = one_hot(%i) {depth = $99999999999999999999} : f32[2,3]\n"),
                         {"out of range for i64"}));
  EXPECT_TRUE(fails_here(body("  %w = variable {init = constant, value = $1e999} : f64[]\n"),
                         {"number '1e999' is out of range for f64"}));
  EXPECT_TRUE(fails_here(body("  %w = variable {init = constant, value = $1e-999} : f64[]\n"),
                         {"out of range"}));
}

TEST(ParseErrors, AttributeValuesCheckedByTheShapeRule) {
  EXPECT_TRUE(fails_here(body("  $%w = variable {init = uniform, low = 1, high = 0} : f32[2]\n"),
                         {"needs low <= high"}));
  EXPECT_TRUE(fails_here(body("  $%w = variable {init = glorot_uniform} : i32[2,2]\n"),
                         {"needs a floating-point variable"}));
  EXPECT_TRUE(fails_here(body("  %x = input : f32[2,3]\n"
                              "  $%0 = transpose(%x) {perm = [0, 0]} : f32[2,2]\n"),
                         {"not a permutation"}));
  // The rule's result is checked before the written type is compared with it.
  EXPECT_TRUE(fails_here(body("  %i = input : i32[4]\n"
                              "  $%0 = one_hot(%i) {depth = 1099511627776} : f32[4]\n"),
                         {"more than 2^40 elements"}));
}

// ---- constants -----------------------------------------------------------------------------

TEST(ParseErrors, ConstantElementCountMismatch) {
  EXPECT_TRUE(fails_here(body("  %c = constant {value = $[1.0, 2.0]} : f32[3]\n"),
                         {"the value has 2 elements but the type f32[3] holds 3"}));
  EXPECT_TRUE(fails_here(body("  %c = constant {value = $[1.0]} : f32[2]\n"),
                         {"1 element but the type f32[2] holds 2"}));
  EXPECT_TRUE(fails_here(body("  %c = constant {value = $[]} : f32[2]\n"),
                         {"0 elements but the type f32[2] holds 2"}));
  EXPECT_TRUE(fails_here(body("  %c = constant {value = $[1, 2]} : i32[]\n"),
                         {"2 elements but the type i32[] holds 1"}));
  // One bracketed element for a scalar is the exact count, not a splat.
  EXPECT_NO_THROW(parse(body("  %c = constant {value = [1.0]} : f32[]\n")));
}

TEST(ParseErrors, ConstantValueOfTheWrongKind) {
  EXPECT_TRUE(fails_here(body("  %c = constant {value = [1, $2.5]} : i32[2]\n"),
                         {"expected an integer for an i32 element", "'2.5'"}));
  EXPECT_TRUE(fails_here(body("  %c = constant {value = $1} : bool[]\n"),
                         {"expected true or false for a bool element", "'1'"}));
  EXPECT_TRUE(fails_here(body("  %c = constant {value = $true} : f32[]\n"),
                         {"expected a number for an f32 element", "'true'"}));
  EXPECT_TRUE(fails_here(body("  %c = constant {value = $nan} : i64[]\n"),
                         {"expected an integer for an i64 element"}));
  EXPECT_TRUE(fails_here(body("  %c = constant {value = [$%x]} : f32[1]\n"),
                         {"unexpected '%x'", "a number, true or false"}));
  EXPECT_TRUE(fails_here(body("  %c = constant {value = [1.0 $2.0]} : f32[2]\n"), {"',' or ']'"}));
  EXPECT_TRUE(
      fails_here(body("  %c = constant {value = $(1.0)} : f32[]\n"), {"a number, true or false"}));
}

TEST(ParseErrors, ConstantIntegersMustFitTheirDtype) {
  EXPECT_TRUE(fails_here(body("  %c = constant {value = [0, $2147483648]} : i32[2]\n"),
                         {"integer '2147483648' is out of range for i32"}));
  EXPECT_TRUE(fails_here(body("  %c = constant {value = $-2147483649} : i32[]\n"),
                         {"out of range for i32"}));
  EXPECT_NO_THROW(parse(body("  %c = constant {value = [-2147483648, 2147483647]} : i32[2]\n")));
  EXPECT_TRUE(fails_here(body("  %c = constant {value = $9223372036854775808} : i64[]\n"),
                         {"out of range for i64"}));
}

TEST(ParseErrors, ConstantRealsMustFitTheirDtype) {
  EXPECT_TRUE(fails_here(body("  %c = constant {value = [1.0, $1e39]} : f32[2]\n"),
                         {"number '1e39' is out of range for f32"}));
  EXPECT_NO_THROW(parse(body("  %c = constant {value = 1e39} : f64[]\n")));
  EXPECT_TRUE(
      fails_here(body("  %c = constant {value = $1e-50} : f32[]\n"), {"out of range for f32"}));
}

TEST(ParseErrors, HugeSplatIsRejectedBeforeAllocating) {
  EXPECT_TRUE(fails_here(body("  %c = constant {value = $0.0} : f32[1048576,1048576]\n"),
                         {"splat constant of type f32[1048576,1048576]", "the most is"}));
  EXPECT_TRUE(
      fails_here(body("  %c = constant {value = $0.0} : f64[33554432,2]\n"), {"splat constant"}));
}

// ---- outputs -------------------------------------------------------------------------------

TEST(ParseErrors, DuplicateOutputName) {
  EXPECT_TRUE(fails_here(body("  %x = input : f32[2]\n  output a = %x\n  output $a = %x\n"),
                         {"output 'a' is already defined on line 3"}));
}

TEST(ParseErrors, OutputOfAnUndefinedValue) {
  EXPECT_TRUE(
      fails_here(body("  %x = input : f32[2]\n  output a = $%y\n"), {"undefined value '%y'"}));
  EXPECT_TRUE(
      fails_here(body("  output a = $%0\n  %0 = input : f32[2]\n"), {"undefined value '%0'"}));
}

TEST(ParseErrors, MalformedOutputs) {
  const std::string x = "  %x = input : f32[2]\n";
  EXPECT_TRUE(
      fails_here(body(x + "  output $%x = %x\n"), {"unexpected '%x'", "the output's name"}));
  EXPECT_TRUE(fails_here(body(x + "  output a $%x\n"), {"'=' after the output's name"}));
  EXPECT_TRUE(
      fails_here(body(x + "  output a =$\n"), {"unexpected end of line", "the output's value"}));
  EXPECT_TRUE(fails_here(body(x + "  output a = $x\n"), {"unexpected 'x'"}));
}

// ---- state ---------------------------------------------------------------------------------

TEST(ParseErrors, AssignRules) {
  const std::string vars = "  %w = variable : f32[2]\n  %x = input : f32[2]\n";
  EXPECT_TRUE(fails_here(body(vars + "  $%0 = assign(%x, %x) : f32[2]\n"),
                         {"the target must be a variable", "input 'x'"}));
  EXPECT_TRUE(fails_here(body(vars + "  %0 = assign(%w, %x) : f32[2]\n"
                                     "  $%1 = assign(%w, %x) : f32[2]\n"),
                         {"variable 'w' is already assigned"}));
}

// ---- the diagnostic's text -----------------------------------------------------------------

TEST(ParseErrors, WhatReadsLikeACompilerDiagnostic) {
  try {
    parse(body("  %x = input : f32[2]\n  %0 = relu(%y) : f32[2]\n"), "model.sj");
    FAIL() << "parsed";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), "model.sj:3:13: error: undefined value '%y' (an operand "
                                     "must be defined on an earlier line)");
  }
}

// ---- robustness ----------------------------------------------------------------------------

// Parses `text`: either it is a graph (which must then verify and print to a fixed point) or
// the parser throws sj::Error. Anything else is a failure naming the input.
void parse_or_error(const std::string& text) {
  try {
    Graph g = parse(text, "fuzz");
    verify(g);
    std::string printed = print(g);
    EXPECT_EQ(print(parse(printed)), printed) << "input:\n" << text;
  } catch (const Error&) {
  } catch (const std::exception& e) {
    ADD_FAILURE() << "not an sj::Error: " << e.what() << "\ninput:\n" << text;
  } catch (...) {
    ADD_FAILURE() << "unknown exception; input:\n" << text;
  }
}

// A valid program touching every token class: comments, names with '.' and '/', numeric
// labels, attributes of every kind, constants of every dtype, nan/inf, outputs.
const char* const kValidProgram = R"(# header comment
graph fuzz {
  %x = input : f32[2,3]   # trailing comment
  %labels = input : i32[2]
  %w/k.0 = variable {init = uniform, seed = 7, low = -0.5, high = 2} : f32[3,3]
  %c = constant {value = [1.5, -2.0, nan, inf, -inf, 1e-07]} : f32[2,3]
  %b = constant {value = [true, false]} : bool[2,1]
  %i = constant {value = -9223372036854775808} : i64[]
  %0 = matmul(%x, %w/k.0) {transpose_b = true} : f32[2,3]
  %1 = select(%b, %0, %c) : f32[2,3]
  %17 = reduce_sum(%1) {axes = [0, -1], keepdims = true} : f32[1,1]
  %2 = cast(%labels) {to = i64} : i64[2]
  %3 = softmax_cross_entropy(%1, %labels) : f32[]
  %4 = assign(%w/k.0, %w/k.0) : f32[3,3]
  output loss = %3
  output s = %17
}
)";

TEST(ParseErrors, ValidFuzzSeedParses) {
  Graph g = parse(kValidProgram);
  verify(g);
  EXPECT_EQ(g.size(), 12u);
}

TEST(ParseErrors, EveryTruncationIsAnErrorOrAGraph) {
  const std::string text = kValidProgram;
  for (size_t n = 0; n <= text.size(); ++n)
    parse_or_error(text.substr(0, n));
}

TEST(ParseErrors, EverySingleByteMutationIsAnErrorOrAGraph) {
  const std::string text = kValidProgram;
  const std::string replacements =
      std::string("%[]{}(),=:#-+.e0912xf\n\t \"\\@", 28) + std::string("\0\x7f\x80\xff", 4);
  for (size_t i = 0; i < text.size(); ++i) {
    for (char r : replacements) {
      std::string mutated = text;
      mutated[i] = r;
      parse_or_error(mutated);
    }
    std::string deleted = text;
    deleted.erase(i, 1);
    parse_or_error(deleted);
    std::string doubled = text;
    doubled.insert(i, 1, text[i]);
    parse_or_error(doubled);
  }
}

TEST(ParseErrors, RandomTokenSoupIsAnErrorOrAGraph) {
  // Sequences of grammar fragments, so parses get deep before failing.
  const std::vector<std::string> pieces = {
      "graph",    " g",         " {",     "}",      "\n",         "  ",  "%x",
      "%0",       "%1",         " = ",    "input",  "relu",       "add", "constant",
      "variable", "output",     "(",      ")",      ", ",         "{",   "value",
      "axes",     " : ",        "f32",    "i32",    "bool",       "[",   "]",
      "2",        "-1",         "1e400",  "nan",    "true",       "#c",  "init",
      "uniform",  "reduce_sum", "concat", "assign", "2147483648", "0.5"};
  std::mt19937 rng(42);
  for (int iter = 0; iter < 20000; ++iter) {
    std::string text = iter % 2 ? "graph g {\n" : "";
    int len = static_cast<int>(rng() % 40);
    for (int k = 0; k < len; ++k)
      text += pieces[rng() % pieces.size()];
    parse_or_error(text);
  }
}

TEST(ParseErrors, VeryLongInputsDoNotRecurseOrStall) {
  // The grammar has no nesting, so brackets do not deepen anything.
  parse_or_error(body("  %c = constant {value = " + std::string(200000, '[') + "} : f32[]\n"));
  parse_or_error(std::string(200000, '{'));
  parse_or_error("graph g {\n" + std::string(200000, '\n') + "}");
  std::string many;
  for (int i = 0; i < 20000; ++i)
    many += fmt::format("  %v{} = input : f32[1]\n", i);
  Graph g = parse(body(many));
  EXPECT_EQ(g.size(), 20000u);
}

} // namespace
} // namespace sj

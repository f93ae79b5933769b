// The Interpreter itself: the source and state kernels (input, variable, constant, assign),
// step semantics across run() calls, feed validation, variable access, out-of-memory handling.
#include "graph/initializers.h"
#include "tests/runtime/kernel_test_util.h"

#include <sys/resource.h>

namespace sj::test {
namespace {

// ---- source ops ----------------------------------------------------------------------------

TEST(Input, ReturnsTheFeed) {
  Graph g;
  Value x = input(g, "x", {DType::f32, {2, 2}});
  Value flag = input(g, "flag", {DType::boolean, {}});
  output("x", x);
  output("flag", flag);
  output("twice", x + x);
  Interpreter interp(g);
  auto out = interp.run(
      {{"x", tensor(DType::f32, {2, 2}, {1, 2, 3, 4})}, {"flag", tensor(DType::boolean, {}, {1})}});
  ASSERT_EQ(out.size(), 3u);
  expect_values(out.at("x"), DType::f32, {2, 2}, {1, 2, 3, 4});
  expect_values(out.at("flag"), DType::boolean, {}, {1});
  expect_values(out.at("twice"), DType::f32, {2, 2}, {2, 4, 6, 8});
  // A new feed on the next call.
  out = interp.run(
      {{"x", tensor(DType::f32, {2, 2}, {0, 0, 0, 1})}, {"flag", tensor(DType::boolean, {}, {0})}});
  expect_values(out.at("twice"), DType::f32, {2, 2}, {0, 0, 0, 2});
}

TEST(Variable, StartsFromItsInitializer) {
  Graph g;
  Value z = variable(g, "z", {DType::f32, {2}});
  Value o = variable(g, "o", {DType::i32, {3}}, Init::ones());
  Value c = variable(g, "c", {DType::f64, {}}, Init::constant(2.5));
  Value r = variable(g, "r", {DType::f32, {4, 3}}, Init::glorot_uniform(7));
  output("z", z);
  output("o", o);
  output("c", c);
  output("r", r);
  Interpreter interp(g);
  expect_values(interp.variable("z"), DType::f32, {2}, {0, 0});
  expect_values(interp.variable("o"), DType::i32, {3}, {1, 1, 1});
  expect_values(interp.variable("c"), DType::f64, {}, {2.5});
  EXPECT_EQ(interp.variable("r"), initial_value(g.node(r.id())));
  auto out = interp.run({});
  expect_values(out.at("z"), DType::f32, {2}, {0, 0});
  expect_values(out.at("o"), DType::i32, {3}, {1, 1, 1});
  expect_values(out.at("c"), DType::f64, {}, {2.5});
  EXPECT_EQ(out.at("r"), interp.variable("r"));
}

TEST(Constant, ReturnsItsValue) {
  Graph g;
  Value f = lit(g, DType::f64, {3}, {1.5, -2, 1e300});
  Value i = constant(g, Tensor::from<int64_t>({2}, {int64_t{1} << 62, -3}));
  Value b = lit(g, DType::boolean, {2}, {0, 1});
  expect_values(eval(f), DType::f64, {3}, {1.5, -2, 1e300}, 0);
  expect_ints(eval(i), DType::i64, {2}, {int64_t{1} << 62, -3});
  expect_values(eval(b), DType::boolean, {2}, {0, 1});
}

// ---- assign and step semantics -------------------------------------------------------------

TEST(Assign, StatePersistsAcrossRuns) {
  Graph g;
  Value v = variable(g, "v", {DType::f32, {2}});
  Value next = assign(v, v + lit(g, DType::f32, {2}, {1, 10}));
  output("next", next);
  Interpreter interp(g);
  expect_values(interp.run({}).at("next"), DType::f32, {2}, {1, 10});
  expect_values(interp.variable("v"), DType::f32, {2}, {1, 10});
  expect_values(interp.run({}).at("next"), DType::f32, {2}, {2, 20});
  expect_values(interp.variable("v"), DType::f32, {2}, {2, 20});
}

TEST(Assign, ReadsInTheStepSeeTheOldValue) {
  Graph g;
  Value v = variable(g, "v", {DType::f64, {}}, Init::constant(3));
  assign(v, v * 2.0);
  output("read_after_assign", v + 0.0); // a node after the assign in evaluation order
  Interpreter interp(g);
  expect_values(interp.run({}).at("read_after_assign"), DType::f64, {}, {3});
  expect_values(interp.variable("v"), DType::f64, {}, {6});
  expect_values(interp.run({}).at("read_after_assign"), DType::f64, {}, {6});
  expect_values(interp.variable("v"), DType::f64, {}, {12});
}

TEST(Assign, AssignsTakeEffectTogether) {
  // A swap works only if neither assign sees the other's new value.
  Graph g;
  Value a = variable(g, "a", {DType::i32, {}}, Init::constant(1));
  Value b = variable(g, "b", {DType::i32, {}}, Init::constant(2));
  assign(a, b);
  assign(b, a);
  Interpreter interp(g);
  interp.run({});
  expect_ints(interp.variable("a"), DType::i32, {}, {2});
  expect_ints(interp.variable("b"), DType::i32, {}, {1});
  interp.run({});
  expect_ints(interp.variable("a"), DType::i32, {}, {1});
  expect_ints(interp.variable("b"), DType::i32, {}, {2});
}

TEST(Assign, AFailedStepChangesNoVariable) {
  Graph g;
  Value v = variable(g, "v", {DType::f32, {}});
  assign(v, v + 1.0);
  Value ids = input(g, "ids", {DType::i32, {1}});
  output("row", gather(lit(g, DType::f32, {2}, {5, 6}), ids)); // after the assign
  Interpreter interp(g);
  expect_error([&] { interp.run({{"ids", tensor(DType::i32, {1}, {2})}}); }, {"index 2"});
  expect_values(interp.variable("v"), DType::f32, {}, {0});
  interp.run({{"ids", tensor(DType::i32, {1}, {1})}});
  expect_values(interp.variable("v"), DType::f32, {}, {1});
}

// ---- feed validation -----------------------------------------------------------------------

// A graph with inputs x: f32[2,3] and y: i32[2], a variable w, and output x * 2.
struct FeedGraph {
  Graph g{"feeds"};
  FeedGraph() {
    Value x = input(g, "x", {DType::f32, {2, 3}});
    input(g, "y", {DType::i32, {2}});
    Value w = variable(g, "w", {DType::f32, {}});
    output("out", x * 2.0);
    assign(w, w + 1.0);
  }
  Tensor x() const { return tensor(DType::f32, {2, 3}, {1, 2, 3, 4, 5, 6}); }
  Tensor y() const { return tensor(DType::i32, {2}, {1, 2}); }
};

TEST(InterpreterFeeds, ExactFeedsRun) {
  FeedGraph f;
  Interpreter interp(f.g);
  expect_values(interp.run({{"x", f.x()}, {"y", f.y()}}).at("out"), DType::f32, {2, 3},
                {2, 4, 6, 8, 10, 12});
}

TEST(InterpreterFeeds, MissingInputsAreListedWithTheirTypes) {
  FeedGraph f;
  Interpreter interp(f.g);
  expect_error([&] { interp.run({{"x", f.x()}}); }, {"missing feed for 'y' (i32[2])"});
  expect_error([&] { interp.run({}); },
               {"missing feeds for 'x' (f32[2,3]), 'y' (i32[2])", "graph 'feeds'", "'x', 'y'"});
}

TEST(InterpreterFeeds, UnknownNamesAreListed) {
  FeedGraph f;
  Interpreter interp(f.g);
  expect_error(
      [&] {
        interp.run({{"x", f.x()}, {"y", f.y()}, {"z", f.y()}});
      },
      {"unknown feed 'z'", "the inputs 'x', 'y'"});
  expect_error(
      [&] {
        interp.run({{"x", f.x()}, {"y", f.y()}, {"w", f.y()}});
      },
      {"unknown feed 'w' (a variable node, not an input)"});
  expect_error(
      [&] {
        interp.run({{"x", f.x()}, {"z", f.y()}, {"q", f.y()}});
      },
      {"missing feed for 'y'", "unknown feeds 'q', 'z'"});
}

TEST(InterpreterFeeds, WrongDtypeOrShapeNamesBothTypes) {
  FeedGraph f;
  Interpreter interp(f.g);
  expect_error(
      [&] {
        interp.run({{"x", tensor(DType::f64, {2, 3}, std::vector<double>(6))}, {"y", f.y()}});
      },
      {"input 'x' is declared f32[2,3], but its feed is f64[2,3]"});
  expect_error(
      [&] {
        interp.run({{"x", tensor(DType::f32, {3, 2}, std::vector<double>(6))}, {"y", f.y()}});
      },
      {"input 'x' is declared f32[2,3], but its feed is f32[3,2]"});
  expect_error(
      [&] {
        interp.run({{"x", f.x()}, {"y", tensor(DType::i32, {}, {1})}});
      },
      {"input 'y' is declared i32[2], but its feed is i32[]"});
}

TEST(InterpreterFeeds, NothingRunsOnABadFeed) {
  FeedGraph f;
  Interpreter interp(f.g);
  EXPECT_THROW(interp.run({{"x", f.x()}}), Error);
  EXPECT_THROW(interp.run({{"x", f.y()}, {"y", f.y()}}), Error);
  expect_values(interp.variable("w"), DType::f32, {}, {0}); // the assign never ran
  interp.run({{"x", f.x()}, {"y", f.y()}});
  expect_values(interp.variable("w"), DType::f32, {}, {1});
}

// ---- variables -----------------------------------------------------------------------------

TEST(InterpreterVariables, UnknownNamesAreErrors) {
  FeedGraph f;
  Interpreter interp(f.g);
  expect_error([&] { interp.variable("nope"); },
               {"there is no variable 'nope' in graph 'feeds'", "its variables are 'w'"});
  expect_error([&] { interp.variable("x"); }, {"'x' is an input node, not a variable"});
  expect_error([&] { interp.set_variable("nope", Tensor::scalar(1.0f)); }, {"no variable 'nope'"});
  Graph empty;
  Interpreter none(empty);
  expect_error([&] { none.variable("w"); }, {"its variables are none"});
}

TEST(InterpreterVariables, SetVariableChecksTheTypeAndIsUsedByTheNextRun) {
  FeedGraph f;
  Interpreter interp(f.g);
  expect_error([&] { interp.set_variable("w", Tensor::scalar(1.0)); },
               {"set_variable: variable 'w' has type f32[], but the value is f64[]"});
  expect_error([&] { interp.set_variable("w", tensor(DType::f32, {1}, {1})); }, {"f32[1]"});
  interp.set_variable("w", Tensor::scalar(41.0f));
  expect_values(interp.variable("w"), DType::f32, {}, {41});
  interp.run({{"x", f.x()}, {"y", f.y()}});
  expect_values(interp.variable("w"), DType::f32, {}, {42});
}

// ---- running -------------------------------------------------------------------------------

TEST(InterpreterRun, KeepsItsOwnCopyOfTheGraph) {
  Graph g;
  Value x = input(g, "x", {DType::f32, {}});
  output("y", x * 3.0);
  Interpreter interp(g);
  output("z", x * 4.0); // changes g, not the interpreter's copy
  auto out = interp.run({{"x", Tensor::scalar(2.0f)}});
  EXPECT_EQ(out.size(), 1u);
  expect_values(out.at("y"), DType::f32, {}, {6});
  EXPECT_EQ(interp.graph().outputs().size(), 1u);
}

TEST(InterpreterRun, EmptyGraph) {
  Graph g;
  Interpreter interp(g);
  EXPECT_TRUE(interp.run({}).empty());
}

TEST(InterpreterRun, SeveralOutputsMayShareAValue) {
  Graph g;
  Value x = lit(g, DType::i32, {2}, {1, 2});
  output("a", x);
  output("b", x);
  auto out = Interpreter(g).run({});
  EXPECT_EQ(out.at("a"), out.at("b"));
}

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool kSanitized = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif
#else
constexpr bool kSanitized = false;
#endif

// AddressSanitizer reports a failed `new` of terabytes as a fatal error (its operator new never
// throws std::bad_alloc, whatever allocator_may_return_null says), so past the limits these
// tests run only uninstrumented.
constexpr const char* kNoHugeAllocations =
    "under a sanitizer a failed allocation aborts instead of throwing std::bad_alloc";

// Lowers the address-space limit for the lifetime of the object, so that a huge allocation
// fails at once whatever the machine's overcommit policy. Not under a sanitizer: its shadow
// memory already spans terabytes of address space.
class AddressSpaceLimit {
public:
  explicit AddressSpaceLimit(rlim_t bytes) {
    getrlimit(RLIMIT_AS, &saved_);
    if (kSanitized) return;
    rlimit lower = saved_;
    if (lower.rlim_cur == RLIM_INFINITY || lower.rlim_cur > bytes) lower.rlim_cur = bytes;
    setrlimit(RLIMIT_AS, &lower);
  }
  ~AddressSpaceLimit() {
    if (!kSanitized) setrlimit(RLIMIT_AS, &saved_);
  }

private:
  rlimit saved_{};
};

TEST(InterpreterRun, OutOfMemoryIsAnError) {
  Graph g;
  Value v = variable(g, "v", {DType::f32, {}});
  assign(v, v + 1.0);
  // 2^39 f32 elements: 2 TiB.
  Value huge = broadcast_to(lit(g, DType::f32, {}, {1}), {int64_t{1} << 19, int64_t{1} << 20});
  output("sum", reduce_sum(huge));
  // The limits refuse it before anything runs; past them, running out of memory is an error.
  expect_error([&] { Interpreter{g}; },
               {"broadcast_to(f32[]) -> f32[524288,1048576]: visits 2^39"});
  if (kSanitized) GTEST_SKIP() << kNoHugeAllocations;
  Interpreter interp(g,
                     {.max_op_elements = int64_t{1} << 40, .max_memory_bytes = int64_t{1} << 50});
  {
    AddressSpaceLimit limit(rlim_t{64} << 30);
    expect_error([&] { interp.run({}); }, {"out of memory", "broadcast_to", "f32[524288,1048576]"});
  }
  expect_values(interp.variable("v"), DType::f32, {}, {0});
}

TEST(InterpreterRun, OutOfMemoryForAVariableIsAnError) {
  Graph g;
  variable(g, "huge", {DType::f64, {int64_t{1} << 20, int64_t{1} << 20}}); // 8 TiB
  expect_error([&] { Interpreter{g}; }, {"variable 'huge' : f64[1048576,1048576]: graph 'main' "
                                         "needs 16384.0 GiB",
                                         "the machine's physical memory"});
  if (kSanitized) GTEST_SKIP() << kNoHugeAllocations;
  AddressSpaceLimit limit(rlim_t{64} << 30);
  expect_error([&] { Interpreter interp(g, {.max_memory_bytes = int64_t{1} << 50}); },
               {"out of memory initializing variable 'huge' of type f64[1048576,1048576]"});
}

} // namespace
} // namespace sj::test

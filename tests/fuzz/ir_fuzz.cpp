// libFuzzer target: the text IR (graph/parse.h), and for small graphs both engines.
//
// Promises checked, for every input:
//   1. parse returns a graph or throws sj::Error (nothing else, no crash, no leak, no UB);
//   2. a graph parse returns passes verify (graph/verify.h), and its text form reads back:
//      print(parse(print(g))) == print(g);
//   3. a small graph (kMaxNodes nodes, every value of at most kMaxExtent elements counting a
//      0 dimension as 1, matmuls of at most kMaxMacs multiply-adds) runs the same in the
//      reference interpreter (runtime/interpreter.h) and compiled (runtime/compiled_step.h):
//      two steps on the same deterministic feeds, where both engines succeed with equal
//      outputs and variables, or both fail with the same sj::Error (after the same number of
//      steps, each leaving its variables unchanged).
//
// "Equal" depends on how each value is computed (see classify()):
//   exact      computed by correctly rounded IEEE operations on both sides (+ - * / sqrt, max,
//              min, abs, comparisons, casts, layout, gather, integer arithmetic): equal values,
//              a NaN matching any NaN and -0 matching +0 (IEEE leaves max/min of zeros and NaN
//              payloads open);
//   approx     through a C math function, a sum or a product whose order differs (the
//              interpreter sums in double, compensated; compiled code in the dtype, blocked):
//              |a - b| <= rtol * max(1, the largest magnitude among the values it was computed
//              from), rtol 1e-3 if an f32 value is among them, else 1e-9. The magnitudes come
//              from a third run, of the interpreter on the graph with every value an output;
//   unordered  where a rounding difference may legitimately flip the result (a comparison or a
//              float-to-int cast of an approximate value, a division by one, huge or non-finite
//              magnitudes): not compared, only success against failure.
// Compiled steps run with flush_denormals = false (IEEE gradual underflow, as the interpreter
// computes) and without the code cache.
#include "graph/parse.h"
#include "graph/print.h"
#include "graph/verify.h"
#include "runtime/compiled_step.h"
#include "runtime/interpreter.h"
#include "tests/fuzz/fuzz_util.h"
#include "tests/fuzz/ir_mutator.h"

#include <algorithm>
#include <cmath>
#include <fmt/format.h>
#include <map>
#include <optional>
#include <vector>

using namespace sj;

namespace {

constexpr size_t kMaxNodes = 48;
constexpr int64_t kMaxExtent = 4096;
constexpr int64_t kMaxMacs = int64_t{1} << 20;
constexpr int kRuns = 2;

/// How far the inputs got, printed at exit when SJ_FUZZ_STATS is set (e.g. with -runs=N on a
/// corpus): how much of the fuzzing reaches the engines.
struct Stats {
  int64_t inputs = 0, parsed = 0, run = 0, both_failed = 0;
  ~Stats() {
    if (std::getenv("SJ_FUZZ_STATS"))
      std::fprintf(stderr,
                   "fuzz_ir: %lld inputs, %lld parsed, %lld run by both engines (%lld "
                   "failing in both)\n",
                   (long long)inputs, (long long)parsed, (long long)run, (long long)both_failed);
  }
} stats;

// ---- which graphs run ---------------------------------------------------------------------

/// The product of the dimensions, a 0 counted as 1: what bounds every loop over the value.
int64_t extent(const Shape& s) {
  int64_t e = 1;
  for (int64_t d : s)
    e *= std::max<int64_t>(d, 1); // parse bounds the extent of every type by 2^40
  return e;
}

bool small(const Graph& g) {
  if (g.size() > kMaxNodes) return false;
  for (const Node& n : g.nodes()) {
    if (extent(n.type.shape) > kMaxExtent) return false;
    if (n.def().name == "matmul") {
      const Shape& a = g.type(n.operands[0]).shape;
      int64_t k = a.empty() ? 1 : a.back();
      if (a.size() >= 2 && n.attrs.flag("transpose_a")) k = a[a.size() - 2];
      if (extent(n.type.shape) * std::max<int64_t>(k, 1) > kMaxMacs) return false;
    }
  }
  return true;
}

// ---- feeds --------------------------------------------------------------------------------

uint64_t mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

/// Deterministic values of the input's type: floats are multiples of 1/4 in [-2, 2] (sums and
/// products of a few of them are exact in any order); integers mostly 0 to 3 (indices in range
/// of small tables), sometimes -1 or 7 (out of range); bools both ways.
Tensor feed(const TensorType& type, uint64_t salt) {
  Tensor t(type);
  visit_dtype(type.dtype, [&]<typename T>() {
    T* p = t.data<T>();
    for (int64_t i = 0; i < t.num_elements(); ++i) {
      uint64_t h = mix(salt * 0x100000001b3ull + uint64_t(i));
      if constexpr (std::is_same_v<T, bool>) {
        p[i] = h & 1;
      } else if constexpr (std::is_integral_v<T>) {
        p[i] = h % 29 == 0 ? T(-1) : h % 31 == 0 ? T(7) : T(h % 4);
      } else {
        p[i] = T(double(int64_t(h % 17) - 8) * 0.25);
      }
    }
  });
  return t;
}

/// Each input's values depend on its name (FNV-1a), so the fuzzer varies them by renaming.
std::map<std::string, Tensor> feeds_for(const Graph& g) {
  std::map<std::string, Tensor> feeds;
  for (ValueId v : g.nodes_of(Op::input)) {
    uint64_t salt = 0xcbf29ce484222325ull;
    for (char c : g.node(v).name)
      salt = (salt ^ static_cast<unsigned char>(c)) * 0x100000001b3ull;
    feeds.emplace(g.node(v).name, feed(g.type(v), salt));
  }
  return feeds;
}

// ---- how each value is compared -----------------------------------------------------------

enum class Num : uint8_t { exact, approx, unordered };

Num worst(Num a, Num b) { return std::max(a, b); }

/// How an op's result compares between the engines, given its operands' worst class `in`.
Num classify_node(const Graph& g, const Node& n, const std::vector<Num>& cls) {
  std::string_view op = n.def().name;
  Num in = Num::exact;
  for (ValueId o : n.operands)
    in = worst(in, cls[o]);
  auto any_float_operand = [&] {
    for (ValueId o : n.operands)
      if (is_float(g.type(o).dtype)) return true;
    return false;
  };
  auto is = [&](std::initializer_list<std::string_view> names) {
    return std::find(names.begin(), names.end(), op) != names.end();
  };
  // Continuous and correctly rounded (or exact) on both sides.
  if (is({"neg", "abs", "relu", "maximum", "minimum", "add", "sub", "mul", "square",
          "stop_gradient", "transpose", "reshape", "broadcast_to", "concat", "slice", "assign",
          "reduce_max"}))
    return in;
  // Correctly rounded, but ill-conditioned (or jumping) at some point: exact operands only.
  if (is({"div", "sqrt", "greater", "greater_equal", "less", "equal"}))
    return in == Num::exact ? Num::exact : Num::unordered;
  if (op == "cast") {
    bool to_int = !is_float(n.type.dtype);
    if (to_int && is_float(g.type(n.operands[0]).dtype))
      return in == Num::exact ? Num::exact : Num::unordered;
    return in;
  }
  if (op == "select") { // the condition jumps, the values are continuous
    if (cls[n.operands[0]] != Num::exact) return Num::unordered;
    return in;
  }
  if (is({"gather", "one_hot", "random_uniform"})) // indices and counters jump
    return cls[n.operands.back()] != Num::exact ? Num::unordered : in;
  if (op == "softmax_cross_entropy")
    return cls[n.operands[1]] != Num::exact ? Num::unordered : worst(in, Num::approx);
  // Sums in another order: exact on integers (wrapping arithmetic is associative).
  if (is({"reduce_sum", "reduce_mean", "matmul", "scatter_add"}))
    return any_float_operand() || is_float(n.type.dtype) ? worst(in, Num::approx) : in;
  // C math functions, well conditioned.
  if (is({"exp", "sigmoid", "tanh", "gelu", "softplus", "erf", "sin", "cos", "softmax",
          "log_softmax"}))
    return worst(in, Num::approx);
  // C math functions with a pole or a branch point: exact operands only.
  if (is({"log", "rsqrt", "pow"})) return in == Num::exact ? Num::approx : Num::unordered;
  if (is({"input", "variable", "constant"})) return Num::exact;
  return Num::unordered; // an op this target does not know yet: success against failure only
}

/// The class of every value in one step, given the class of each variable's value at its
/// start (exact in the first step; then what was assigned to it in the step before).
std::vector<Num> classify(const Graph& g, const std::map<ValueId, Num>& variables) {
  std::vector<Num> cls(g.size(), Num::exact);
  for (ValueId v = 0; v < g.size(); ++v) {
    auto it = variables.find(v);
    cls[v] = it != variables.end() ? it->second : classify_node(g, g.node(v), cls);
  }
  return cls;
}

/// The class of each variable's value after a step with classes `cls`.
std::map<ValueId, Num> assigned_classes(const Graph& g, const std::vector<Num>& cls) {
  std::map<ValueId, Num> r;
  for (ValueId v : g.nodes_of(Op::variable))
    r[v] = cls[v];
  for (ValueId v : g.nodes_of(Op::assign))
    r[g.node(v).operands[0]] = cls[g.node(v).operands[1]];
  return r;
}

/// What bounds the error of an approximate value: the largest finite magnitude among the
/// values it is computed from (itself included), whether any of them is not finite, and
/// whether any is f32.
struct Cone {
  double magnitude = 0;
  bool non_finite = false;
  bool f32 = false;
  bool known = false;
};

/// A copy of g in which every value is also an output, so one interpreter run shows them all.
Graph with_every_value_an_output(const Graph& g) {
  Graph r(g.name());
  for (const Node& n : g.nodes())
    r.add(n.op, n.operands, n.attrs, n.loc, n.name, n.def().declares_type ? &n.type : nullptr);
  for (const Output& o : g.outputs())
    r.add_output(o.name, o.value);
  for (ValueId v = 0; v < g.size(); ++v) {
    std::string name = fmt::format("sj_fuzz_value_{}", v);
    if (!r.output(name)) r.add_output(name, v);
  }
  return r;
}

/// Cones of every value, step by step (none when the run of every value fails: then no
/// approximate value is compared).
std::vector<std::vector<Cone>> cones(const Graph& g, const std::map<std::string, Tensor>& feeds) {
  std::vector<std::vector<Cone>> steps;
  Graph all = with_every_value_an_output(g);
  std::optional<Interpreter> interp;
  if (fuzz::sj_error_of("Interpreter", [&] { interp.emplace(all); })) return steps;
  for (int s = 0; s < kRuns; ++s) {
    std::map<std::string, Tensor> values;
    if (fuzz::sj_error_of("Interpreter::run", [&] { values = interp->run(feeds); })) break;
    std::vector<Cone> c(g.size());
    for (ValueId v = 0; v < g.size(); ++v) {
      const Tensor& t = values.at(fmt::format("sj_fuzz_value_{}", v));
      Cone& k = c[v];
      k.known = true;
      k.f32 = t.dtype() == DType::f32;
      for (int64_t i = 0; i < t.num_elements(); ++i) {
        double x = t.as_double(i);
        if (!std::isfinite(x))
          k.non_finite = true;
        else
          k.magnitude = std::max(k.magnitude, std::abs(x));
      }
      for (ValueId o : g.node(v).operands) {
        k.magnitude = std::max(k.magnitude, c[o].magnitude);
        k.non_finite = k.non_finite || c[o].non_finite;
        k.f32 = k.f32 || c[o].f32;
      }
    }
    steps.push_back(std::move(c));
  }
  return steps;
}

/// Where `got` (compiled) and `want` (interpreted) differ beyond what `cls` allows; "" if not.
std::string compare(const Tensor& got, const Tensor& want, Num cls, const Cone* cone) {
  if (got.type() != want.type())
    return fmt::format("type {} against {}", got.type().str(), want.type().str());
  if (cls == Num::unordered) return "";
  double tol = 0;
  if (cls == Num::approx) {
    if (!cone || !cone->known || cone->non_finite || cone->magnitude > 1e6) return "";
    tol = (cone->f32 ? 1e-3 : 1e-9) * std::max(1.0, cone->magnitude);
  }
  for (int64_t i = 0; i < got.num_elements(); ++i) {
    if (is_float(got.dtype())) {
      double a = got.as_double(i), b = want.as_double(i);
      if (std::isnan(a) && std::isnan(b)) continue;
      if (a == b || std::abs(a - b) <= tol) continue;
      return fmt::format("element {}: compiled {} against interpreted {} ({} comparison{})", i, a,
                         b, cls == Num::exact ? "exact" : "approximate",
                         cls == Num::exact ? "" : fmt::format(", tolerance {}", tol));
    }
    if (got.as_int64(i) != want.as_int64(i))
      return fmt::format("element {}: compiled {} against interpreted {}", i, got.as_int64(i),
                         want.as_int64(i));
  }
  return "";
}

// ---- the two engines ----------------------------------------------------------------------

struct Outcome {
  struct Step {
    std::map<std::string, Tensor> outputs, variables;
  };
  std::map<std::string, Tensor> initial_variables;
  std::vector<Step> steps;          // the steps that succeeded
  std::optional<std::string> error; // why the next one (or the setup) failed
  std::map<std::string, Tensor> variables_after_error;
};

template <typename Engine, typename Make>
Outcome run_engine(const char* what, Make make, const std::map<std::string, Tensor>& feeds) {
  Outcome o;
  std::optional<Engine> e;
  o.error = fuzz::sj_error_of(what, [&] { e.emplace(make()); });
  if (o.error) return o;
  o.initial_variables = e->variables().all();
  for (int s = 0; s < kRuns; ++s) {
    std::map<std::string, Tensor> out;
    o.error = fuzz::sj_error_of(what, [&] { out = e->run(feeds); });
    if (o.error) {
      o.variables_after_error = e->variables().all();
      return o;
    }
    o.steps.push_back({std::move(out), e->variables().all()});
  }
  return o;
}

std::string describe(const Outcome& o) {
  return o.error ? fmt::format("failed after {} steps: {}", o.steps.size(), *o.error)
                 : fmt::format("succeeded ({} steps)", o.steps.size());
}

void differential(const Graph& g, bool simplify_first) {
  auto feeds = feeds_for(g);
  Outcome interpreted = run_engine<Interpreter>(
      "the interpreter", [&] { return Interpreter(g); }, feeds);
  CompileOptions options{.simplify = simplify_first, .use_cache = false, .flush_denormals = false};
  Outcome compiled = run_engine<CompiledStep>(
      "the compiled step", [&] { return CompiledStep::compile(g, options); }, feeds);

  auto mismatch = [&](const std::string& what) {
    fuzz::fail(fmt::format("the engines disagree (simplify {}): {}\n  interpreter: {}\n  compiled: "
                           "{}\n--- the graph as parsed ---\n{}",
                           simplify_first ? "on" : "off", what, describe(interpreted),
                           describe(compiled), print(g)));
  };
  ++stats.run;
  stats.both_failed += interpreted.error && compiled.error;
  if (interpreted.steps.size() != compiled.steps.size() ||
      interpreted.error.has_value() != compiled.error.has_value())
    mismatch("one fails where the other does not");
  // The semantics promise one error for a failing graph (the first live node that fails), so
  // both engines give the same text.
  if (interpreted.error && *interpreted.error != *compiled.error)
    mismatch("both fail, with different errors");
  // A failed step changes no variable, in either engine.
  for (const Outcome* o : {&interpreted, &compiled})
    if (o->error && o->variables_after_error !=
                        (o->steps.empty() ? o->initial_variables : o->steps.back().variables))
      mismatch("a failed step changed variables");

  auto all_cones = cones(g, feeds);
  std::map<ValueId, Num> var_classes;
  for (ValueId v : g.nodes_of(Op::variable))
    var_classes[v] = Num::exact;
  for (size_t s = 0; s < compiled.steps.size(); ++s) {
    std::vector<Num> cls = classify(g, var_classes);
    const std::vector<Cone>* cone = s < all_cones.size() ? &all_cones[s] : nullptr;
    const auto& got = compiled.steps[s];
    const auto& want = interpreted.steps[s];
    if (got.outputs.size() != want.outputs.size()) mismatch("different sets of outputs");
    for (const Output& out : g.outputs()) {
      auto a = got.outputs.find(out.name), b = want.outputs.find(out.name);
      if (a == got.outputs.end() || b == want.outputs.end())
        mismatch("output '" + out.name + "' missing");
      std::string d =
          compare(a->second, b->second, cls[out.value], cone ? &(*cone)[out.value] : nullptr);
      if (!d.empty()) mismatch(fmt::format("step {}, output '{}': {}", s + 1, out.name, d));
    }
    var_classes = assigned_classes(g, cls);
    std::map<ValueId, ValueId> assigned; // variable -> the value assigned to it
    for (ValueId v : g.nodes_of(Op::assign))
      assigned[g.node(v).operands[0]] = g.node(v).operands[1];
    for (ValueId v : g.nodes_of(Op::variable)) {
      const std::string& name = g.node(v).name;
      ValueId from = assigned.count(v) ? assigned[v] : v;
      std::string d = compare(got.variables.at(name), want.variables.at(name), var_classes[v],
                              cone ? &(*cone)[from] : nullptr);
      if (!d.empty()) mismatch(fmt::format("step {}, variable '{}': {}", s + 1, name, d));
    }
  }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  ++stats.inputs;
  Graph g;
  if (fuzz::sj_error_of("parse", [&] { g = parse(text, "fuzz.sj"); })) return 0;
  ++stats.parsed;

  if (auto e = fuzz::sj_error_of("verify", [&] { verify(g); }))
    fuzz::fail("a graph parse accepted does not verify: " + *e);
  std::string first = print(g);
  Graph again;
  if (auto e = fuzz::sj_error_of("parse(print(g))", [&] { again = parse(first, "printed.sj"); }))
    fuzz::fail("the printed graph does not parse: " + *e + "\n--- printed ---\n" + first);
  std::string second = print(again);
  if (second != first)
    fuzz::fail("print(parse(print(g))) != print(g)\n--- first ---\n" + first + "--- second ---\n" +
               second);

  if (small(g)) differential(g, /*simplify_first=*/size % 3 != 0);
  return 0;
}

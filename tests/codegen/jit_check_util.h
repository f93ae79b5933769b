// Shared by the compiled-vs-interpreter tests (ops_compiled_test.cpp, random_graphs_test.cpp):
// fixed-seed values, tolerances and the comparison of a compiled step's results (outputs and
// variables) with the reference interpreter's.
//
// Tolerances. The interpreter is the oracle; compiled code is held to:
// - exact: integer, bool, layout, select and cast results, and every value that only moves or
//   picks elements or comes from IEEE's correctly rounded + - * / sqrt (the interpreter computes
//   f32 in double and rounds once, which gives the same bits): bit-identical (a NaN matches any
//   NaN; -0 and +0 differ);
// - elementwise: the C math functions (exp, log, tanh, erf, pow, ...): |got - want| <= rtol *
//   max(|got|, |want|, smallest normal) with rtol 2e-6 for f32 (~16 ulp; compiled code calls the
//   f32 functions, the interpreter the f64 ones) and 1e-12 for f64;
// - accumulate: reductions, matmul, the softmax family and cross-entropy: |got - want| <=
//   rtol * max(|got|, |want|, floor) with rtol 1e-5 for f32 and 1e-10 for f64 (compiled code
//   sums in another order, f32 matmul in f32); `floor` (default 1) is the magnitude of the terms
//   summed, below which the tolerance is absolute.
// NaN must meet NaN and infinities must match exactly under every tolerance. A value computed
// in f32 and then cast to f64 can be compared with f32's rtol (CheckSpec::output_precision).
#pragma once

#include "graph/print.h"
#include "runtime/compiled_step.h"
#include "runtime/interpreter.h"
#include "tests/support/rng.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <fmt/format.h>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace sj::jit_test {

using test::Rng;

/// FNV-1a of a name: a fixed seed per test case.
inline uint64_t seed_of(std::string_view name) {
  uint64_t h = 0xcbf29ce484222325;
  for (char ch : name)
    h = (h ^ static_cast<unsigned char>(ch)) * 0x100000001b3;
  return h;
}

/// How the values of a fed tensor are drawn: the `special` values first (in order, cut to the
/// element count), then uniform floats in [lo, hi) or uniform integers in [lo, hi]; bools are
/// fair coins. Float specials are converted to the dtype; integer specials are given exactly.
struct Dist {
  double lo = -2, hi = 2;
  std::vector<double> special = {};
  std::vector<int64_t> int_special = {};
  /// Floats rounded to multiples of `grid` (0: not rounded): repeated values, so ties happen.
  double grid = 0;

  static Dist uniform(double lo, double hi) { return {.lo = lo, .hi = hi}; }
  static Dist ints(int64_t lo, int64_t hi) { return {.lo = double(lo), .hi = double(hi)}; }
};

inline Tensor sample(const TensorType& type, const Dist& dist, Rng& rng) {
  Tensor t(type);
  visit_dtype(type.dtype, [&]<typename T>() {
    T* p = t.data<T>();
    for (int64_t i = 0; i < t.num_elements(); ++i) {
      auto k = static_cast<size_t>(i);
      if constexpr (std::is_same_v<T, bool>) {
        p[i] = rng.chance(0.5);
      } else if constexpr (std::is_integral_v<T>) {
        if (k < dist.int_special.size())
          p[i] = static_cast<T>(dist.int_special[k]);
        else if (k < dist.special.size())
          p[i] = static_cast<T>(dist.special[k]);
        else
          p[i] = static_cast<T>(rng.between(int64_t(dist.lo), int64_t(dist.hi)));
      } else {
        if (k < dist.special.size()) {
          p[i] = static_cast<T>(dist.special[k]);
        } else {
          double x = rng.uniform(dist.lo, dist.hi);
          if (dist.grid > 0) x = std::round(x / dist.grid) * dist.grid;
          p[i] = static_cast<T>(x);
        }
      }
    }
  });
  return t;
}

enum class Tol { exact, elementwise, accumulate };

inline const char* tol_name(Tol t) {
  return t == Tol::exact ? "exact" : t == Tol::elementwise ? "elementwise" : "accumulate";
}

/// The relative tolerance of `tol` for dtype `t` (0 for exact).
inline double rtol(Tol tol, DType t) {
  if (tol == Tol::exact || !is_float(t)) return 0;
  bool f32 = t == DType::f32;
  if (tol == Tol::elementwise) return f32 ? 2e-6 : 1e-12;
  return f32 ? 1e-5 : 1e-10;
}

/// The error of `got` against `want` under `tol`, in units of the tolerance (<= 1 passes;
/// infinity for a NaN, infinity or bit pattern that does not match).
inline double element_error(const Tensor& got, const Tensor& want, int64_t i, Tol tol,
                            double floor = 1, std::optional<DType> precision = {}) {
  DType t = want.dtype();
  size_t size = dtype_size(t);
  const std::byte* a = got.bytes().data() + static_cast<size_t>(i) * size;
  const std::byte* b = want.bytes().data() + static_cast<size_t>(i) * size;
  if (t == DType::boolean) return (a[0] != std::byte{0}) == (b[0] != std::byte{0}) ? 0 : INFINITY;
  if (std::memcmp(a, b, size) == 0) return 0;
  if (!is_float(t)) return INFINITY;
  double x = got.as_double(i), y = want.as_double(i);
  if (std::isnan(x) && std::isnan(y)) return 0;
  if (tol != Tol::exact && x == y) return 0; // -0 and +0 differ only when exact
  double r = rtol(tol, precision.value_or(t));
  if (r == 0 || std::isnan(x) || std::isnan(y) || std::isinf(x) || std::isinf(y)) return INFINITY;
  double scale = std::max(std::abs(x), std::abs(y));
  if (tol == Tol::accumulate) scale = std::max(scale, floor);
  if (tol == Tol::elementwise) // relative down to the smallest normal number
    scale = std::max(scale, t == DType::f32 ? double(std::numeric_limits<float>::min())
                                            : std::numeric_limits<double>::min());
  return std::abs(x - y) / (r * scale);
}

/// The largest error, in units of the tolerance, seen per tolerance class and dtype, and where:
/// reported at the end of a test program (the headroom the tolerances leave).
inline std::map<std::string, std::pair<double, std::string>>& worst_errors() {
  static std::map<std::string, std::pair<double, std::string>> worst;
  return worst;
}

/// "" when `got` matches `want` under `tol`, else a description of the worst elements. `what`
/// names the value for worst_errors().
inline std::string compare_tensors(const Tensor& got, const Tensor& want, Tol tol,
                                   const std::string& what = "", double floor = 1,
                                   std::optional<DType> precision = {}) {
  if (got.type() != want.type())
    return fmt::format("type {} but the interpreter gives {}", got.type().str(), want.type().str());
  std::vector<std::pair<double, int64_t>> bad;
  double worst = 0;
  for (int64_t i = 0; i < want.num_elements(); ++i) {
    double e = element_error(got, want, i, tol, floor, precision);
    if (std::isfinite(e)) worst = std::max(worst, e);
    if (e > 1) bad.emplace_back(e, i);
  }
  if (is_float(want.dtype()) && tol != Tol::exact) {
    auto& w = worst_errors()[fmt::format("{} {}", tol_name(tol), dtype_name(want.dtype()))];
    if (worst >= w.first) w = {worst, what};
  }
  if (bad.empty()) return "";
  std::stable_sort(bad.begin(), bad.end(), [](auto& a, auto& b) { return a.first > b.first; });
  std::string s =
      fmt::format("{} of {} elements differ ({} tolerance, rtol {:g}{}); worst:", bad.size(),
                  want.num_elements(), tol_name(tol), rtol(tol, precision.value_or(want.dtype())),
                  tol == Tol::accumulate ? fmt::format(", floor {:g}", floor) : "");
  for (size_t k = 0; k < std::min<size_t>(bad.size(), 6); ++k) {
    int64_t i = bad[k].second;
    double x = got.as_double(i), y = want.as_double(i);
    s += fmt::format("\n    [{}] compiled {:.17g}, interpreter {:.17g}", i, x, y);
    if (std::isfinite(x) && std::isfinite(y) && y != 0)
      s += fmt::format(" (relative error {:.3g})", std::abs(x - y) / std::abs(y));
  }
  return s;
}

/// What to compare after compiling a graph: the tolerance of each output (by name; others get
/// `default_tol`) and of the variables, how many steps to run (state carries over), and the
/// compile options.
struct CheckSpec {
  std::map<std::string, Tol> output_tol = {};
  /// The floor of the accumulate tolerance's scale, per output (default 1): the magnitude of
  /// the terms the output was computed from.
  std::map<std::string, double> output_floor = {};
  /// The dtype whose tolerance applies, per output (default: the output's own): an f64 output
  /// computed in f32 and cast has f32's error.
  std::map<std::string, DType> output_precision = {};
  Tol default_tol = Tol::accumulate;
  Tol variable_tol = Tol::exact;
  std::optional<DType> variable_precision = {};
  int runs = 1;
  /// Before each run, give the compiled step the interpreter's variables: each run then starts
  /// from identical state, so results computed from variables can be compared exactly.
  bool sync_variables = false;
  /// The interpreter computes with IEEE gradual underflow, so compiled steps under test do too
  /// (the special values include denormals); flushing them is tested on its own.
  CompileOptions options = {.flush_denormals = false};
};

struct CheckResult {
  std::vector<std::string> failures; // empty: everything matched
  int64_t arena_bytes = 0, lower_bound_bytes = 0;
  double compile_ms = 0;
};

/// Compiles `g`, runs it and the interpreter `spec.runs` times on `feeds`, and compares every
/// output after every run and every variable after every run. An exception from the compiler
/// or the compiled step (but not from the interpreter) is a failure too.
inline CheckResult check_against_interpreter(const Graph& g,
                                             const std::map<std::string, Tensor>& feeds,
                                             const CheckSpec& spec) {
  CheckResult r;
  Interpreter reference(g);
  std::optional<CompiledStep> step;
  try {
    step.emplace(CompiledStep::compile(g, spec.options));
  } catch (const std::exception& e) {
    r.failures.push_back(fmt::format("compiling threw: {}", e.what()));
    return r;
  }
  r.arena_bytes = step->arena_bytes();
  r.lower_bound_bytes = step->arena_lower_bound_bytes();
  r.compile_ms = step->compile_ms();
  for (int run = 0; run < spec.runs; ++run) {
    if (spec.sync_variables)
      for (ValueId v : g.nodes_of(Op::variable))
        step->set_variable(g.node(v).name, reference.variable(g.node(v).name));
    std::map<std::string, Tensor> want = reference.run(feeds);
    const std::map<std::string, Tensor>* got = nullptr;
    try {
      got = &step->run(feeds);
    } catch (const std::exception& e) {
      r.failures.push_back(fmt::format("run {}: the compiled step threw: {}", run, e.what()));
      return r;
    }
    for (const auto& [name, value] : want) {
      auto it = spec.output_tol.find(name);
      Tol tol = it == spec.output_tol.end() ? spec.default_tol : it->second;
      auto floor = spec.output_floor.find(name);
      auto precision = spec.output_precision.find(name);
      auto found = got->find(name);
      std::string problem =
          found == got->end()
              ? std::string("missing from the compiled outputs")
              : compare_tensors(found->second, value, tol, g.name() + ": " + name,
                                floor == spec.output_floor.end() ? 1.0 : floor->second,
                                precision == spec.output_precision.end()
                                    ? std::nullopt
                                    : std::optional<DType>(precision->second));
      if (!problem.empty())
        r.failures.push_back(
            fmt::format("run {}: output '{}' ({}): {}", run, name, value.type().str(), problem));
    }
    for (ValueId v : g.nodes_of(Op::variable)) {
      const std::string& name = g.node(v).name;
      std::string problem;
      try {
        problem = compare_tensors(step->variable(name), reference.variable(name), spec.variable_tol,
                                  name, 1.0, spec.variable_precision);
      } catch (const std::exception& e) {
        problem = e.what();
      }
      if (!problem.empty())
        r.failures.push_back(fmt::format("after run {}: variable '{}' ({}): {}", run, name,
                                         g.type(v).str(), problem));
    }
  }
  return r;
}

} // namespace sj::jit_test

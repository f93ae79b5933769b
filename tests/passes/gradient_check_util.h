// Gradient checking for the differentiation pass: analytic gradients (sj::gradients, evaluated
// by the interpreter) against central differences of the loss (also evaluated by the
// interpreter, on the forward graph only).
//
//   GradCheck c(seed);
//   Value y = sj::tanh(c.uniform("x", {3, 4}, -2, 2));
//   check_gradients(weighted_sum(c, y), c.wrt(), c.feeds());
//
// Numerics. Every check runs in f64. The step for an element x is h = cbrt(eps) * max(|x|, 1)
// (about 6e-6 for |x| <= 1): the central difference's truncation error is about h^2/6 |f'''|
// ~ 1e-11 |f'''| and its rounding error about eps |f| / h ~ 4e-11 |f|, both far below the 1e-6
// the checks require for inputs, weights and derivatives of order 1 (the cases keep them so).
// x + h and x - h are rounded to the input's dtype and the difference is divided by the step
// actually taken, so no representation error enters the quotient.
//
// The error of one gradient is norm-based: ||analytic - numeric||_2 / max(||analytic||_2,
// ||numeric||_2, 1e-300). A mathematically zero gradient comes out exactly zero both ways (a
// value with no influence leaves the loss bit-identical), so the floor only avoids 0/0.
#pragma once

#include "frontend/gradients.h"
#include "graph/builder.h"
#include "graph/parse.h"
#include "graph/print.h"
#include "graph/verify.h"
#include "runtime/interpreter.h"
#include "tests/support/rng.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <limits>
#include <map>
#include <numeric>
#include <set>
#include <string>
#include <vector>

namespace sj::test {

/// FNV-1a of a name: a fixed seed per test case.
inline uint64_t seed_of(std::string_view name) {
  uint64_t h = 0xcbf29ce484222325;
  for (char ch : name)
    h = (h ^ static_cast<unsigned char>(ch)) * 0x100000001b3;
  return h;
}

/// A tensor of a float dtype holding `values` (row-major).
inline Tensor float_tensor(DType dtype, const Shape& shape, const std::vector<double>& values) {
  Tensor t({dtype, shape});
  SJ_ASSERT(static_cast<int64_t>(values.size()) == t.num_elements());
  visit_dtype(dtype, [&]<typename T>() {
    if constexpr (std::is_floating_point_v<T>) {
      for (size_t i = 0; i < values.size(); ++i)
        t.data<T>()[i] = static_cast<T>(values[i]);
    } else {
      internal_error("float_tensor: not a float dtype");
    }
  });
  return t;
}

/// The graph of one gradient check under construction: its fed inputs (with fixed-seed
/// values), which of them the gradients are taken with respect to, and the random constants.
class GradCheck {
public:
  explicit GradCheck(uint64_t seed) : graph_("check"), rng_(seed) {}
  GradCheck(const GradCheck&) = delete; // Values point at graph_
  GradCheck& operator=(const GradCheck&) = delete;

  Graph& graph() { return graph_; }
  Rng& rng() { return rng_; }
  /// The float inputs to differentiate with respect to, in creation order.
  const std::vector<Value>& wrt() const { return wrt_; }
  /// Every input's value, by name.
  const std::map<std::string, Tensor>& feeds() const { return feeds_; }

  /// `n` values uniform in [lo, hi).
  std::vector<double> random(int64_t n, double lo, double hi) {
    std::vector<double> v(n);
    for (double& x : v)
      x = rng_.uniform(lo, hi);
    return v;
  }

  /// A fed float input holding `values`; differentiated with respect to unless `wrt` is false.
  Value input(const std::string& name, const Shape& shape, const std::vector<double>& values,
              DType dtype = DType::f64, bool wrt = true) {
    Tensor t = float_tensor(dtype, shape, values);
    Value v = sj::input(graph_, name, t.type());
    feeds_[name] = std::move(t);
    if (wrt) wrt_.push_back(v);
    return v;
  }
  /// A fed float input uniform in [lo, hi).
  Value uniform(const std::string& name, const Shape& shape, double lo, double hi,
                DType dtype = DType::f64) {
    return input(name, shape, random(num_elements(shape), lo, hi), dtype);
  }
  /// A fed f64 input whose magnitudes are uniform in [lo, hi), signs random (away from 0).
  Value away_from_zero(const std::string& name, const Shape& shape, double lo, double hi) {
    std::vector<double> v(num_elements(shape));
    for (double& x : v)
      x = rng_.signed_uniform(lo, hi);
    return input(name, shape, v);
  }
  /// A fed f64 input of pairwise distinct values, at least 0.75 * `spacing` apart (a shuffled
  /// grid from `lo`, each point jittered by less than spacing / 4): no ties, at any step the
  /// finite differences take.
  Value distinct(const std::string& name, const Shape& shape, double lo, double spacing) {
    int64_t n = num_elements(shape);
    std::vector<int64_t> order(n);
    std::iota(order.begin(), order.end(), 0);
    for (int64_t i = n - 1; i > 0; --i)
      std::swap(order[i], order[rng_.below(i + 1)]);
    std::vector<double> v(n);
    for (int64_t i = 0; i < n; ++i)
      v[i] = lo + spacing * static_cast<double>(order[i]) + rng_.uniform(0, spacing / 4);
    return input(name, shape, v);
  }
  /// A fed integer input (indices, labels): not differentiated.
  Value indices(const std::string& name, const Shape& shape, const std::vector<int64_t>& values,
                DType dtype = DType::i64) {
    Tensor t({dtype, shape});
    SJ_ASSERT(static_cast<int64_t>(values.size()) == t.num_elements());
    for (size_t i = 0; i < values.size(); ++i) {
      if (dtype == DType::i64)
        t.data<int64_t>()[i] = values[i];
      else
        t.data<int32_t>()[i] = static_cast<int32_t>(values[i]);
    }
    Value v = sj::input(graph_, name, t.type());
    feeds_[name] = std::move(t);
    return v;
  }
  /// An f64 constant of `shape` with magnitudes uniform in [0.5, 1.5) and random signs: a
  /// distinct, non-negligible weight per element.
  Value weights(const Shape& shape) {
    std::vector<double> v(num_elements(shape));
    for (double& x : v)
      x = rng_.signed_uniform(0.5, 1.5);
    return constant(graph_, float_tensor(DType::f64, shape, v));
  }

private:
  Graph graph_;
  Rng rng_;
  std::vector<Value> wrt_;
  std::map<std::string, Tensor> feeds_;
};

/// reduce_sum(y * W) with W a random constant of y's shape: a scalar in which every element of
/// y matters, each with its own weight.
inline Value weighted_sum(GradCheck& c, Value y) { return reduce_sum(y * c.weights(y.shape())); }

/// ||a - n||_2 / max(||a||_2, ||n||_2, 1e-300) (see the top of this file).
inline double relative_error(const Tensor& a, const Tensor& n) {
  SJ_ASSERT(a.num_elements() == n.num_elements());
  double diff = 0, na = 0, nn = 0;
  for (int64_t i = 0; i < a.num_elements(); ++i) {
    double x = a.as_double(i), y = n.as_double(i);
    diff += (x - y) * (x - y);
    na += x * x;
    nn += y * y;
  }
  return std::sqrt(diff) / std::max({std::sqrt(na), std::sqrt(nn), 1e-300});
}

/// The finite-difference step for an element x of dtype `t` (see the top of this file).
inline double fd_step(DType t, double x) {
  double eps = t == DType::f32 ? std::numeric_limits<float>::epsilon()
                               : std::numeric_limits<double>::epsilon();
  return std::cbrt(eps) * std::max(std::abs(x), 1.0);
}

/// Central differences, with respect to every element of the float input `input`, of the
/// scalar output `loss` of the interpreter's graph (fed `feeds`, the input perturbed).
inline Tensor central_differences(Interpreter& interpreter, const std::string& loss,
                                  std::map<std::string, Tensor> feeds, const std::string& input) {
  Tensor& x = feeds.at(input);
  Tensor numeric({DType::f64, x.shape()});
  visit_dtype(x.dtype(), [&]<typename T>() {
    if constexpr (std::is_floating_point_v<T>) {
      for (int64_t k = 0; k < x.num_elements(); ++k) {
        T original = x.data<T>()[k];
        double h = fd_step(x.dtype(), double(original));
        T plus = static_cast<T>(double(original) + h), minus = static_cast<T>(double(original) - h);
        x.data<T>()[k] = plus;
        double f_plus = interpreter.run(feeds).at(loss).as_double(0);
        x.data<T>()[k] = minus;
        double f_minus = interpreter.run(feeds).at(loss).as_double(0);
        x.data<T>()[k] = original;
        numeric.data<double>()[k] = (f_plus - f_minus) / (double(plus) - double(minus));
      }
    } else {
      internal_error("central_differences: not a float input");
    }
  });
  return numeric;
}

/// Expects `g` to pass verify() and to survive the text form: print(parse(print(g))) == print(g).
inline void expect_well_formed(const Graph& g) {
  try {
    verify(g);
  } catch (const Error& e) {
    ADD_FAILURE() << "verify: " << e.what();
  }
  std::string text = print(g);
  try {
    EXPECT_EQ(print(parse(text)), text);
  } catch (const Error& e) {
    ADD_FAILURE() << "the printed graph does not parse: " << e.what() << "\n" << text;
  }
}

struct CheckOptions {
  double tolerance = 1e-6; // on relative_error, per gradient
  GradientOptions gradient = {};
};

/// What check_gradients found, for further checks by the caller.
struct GradientReport {
  std::vector<Value> grads;     // the gradient values appended to the graph
  std::vector<Tensor> analytic; // their values, from the interpreter
  std::vector<Tensor> numeric;  // central differences (f64)
  std::vector<double> error;    // relative_error(analytic, numeric) per wrt
  ValueId first_new = 0;        // the first node the pass appended
};

/// Differentiates the scalar `loss` with respect to `wrt` (fed float inputs) with
/// sj::gradients and checks, with gtest expectations:
/// - each gradient has exactly its wrt value's type, and every float node the pass appended
///   has a dtype the graph already used (no silent change of precision);
/// - the graph with the gradients passes verify() and round-trips through the text form, and
///   the parsed graph computes bit-identical gradients;
/// - each gradient matches central differences of `loss` within options.tolerance.
inline GradientReport check_gradients(Value loss, const std::vector<Value>& wrt,
                                      const std::map<std::string, Tensor>& feeds,
                                      const CheckOptions& options = {}) {
  GradientReport r;
  Graph& g = loss.graph();
  Graph forward = g; // the loss alone: what the finite differences evaluate
  forward.add_output("fd_loss", loss.id());
  std::set<DType> forward_dtypes;
  for (const Node& n : g.nodes())
    forward_dtypes.insert(n.type.dtype);

  r.first_new = static_cast<ValueId>(g.size());
  r.grads = gradients(loss, wrt, options.gradient);
  EXPECT_EQ(r.grads.size(), wrt.size());
  for (size_t i = 0; i < wrt.size() && i < r.grads.size(); ++i)
    EXPECT_EQ(r.grads[i].type().str(), wrt[i].type().str()) << "the type of gradient " << i;
  for (ValueId v = r.first_new; v < g.size(); ++v) {
    if (!is_float(g.type(v).dtype)) continue;
    EXPECT_TRUE(forward_dtypes.count(g.type(v).dtype))
        << "node %" << v << " (" << g.node(v).def().name << ") is " << g.type(v).str()
        << ", a float dtype the forward graph does not use";
  }

  Graph with_grads = g;
  for (size_t i = 0; i < r.grads.size(); ++i)
    with_grads.add_output(fmt::format("grad_{}", i), r.grads[i].id());
  expect_well_formed(with_grads);

  std::map<std::string, Tensor> outputs = Interpreter(with_grads).run(feeds);
  for (size_t i = 0; i < r.grads.size(); ++i)
    r.analytic.push_back(outputs.at(fmt::format("grad_{}", i)));
  try {
    std::map<std::string, Tensor> reparsed = Interpreter(parse(print(with_grads))).run(feeds);
    for (const auto& [name, value] : outputs)
      EXPECT_TRUE(reparsed.at(name) == value) << "the parsed graph computes another " << name;
  } catch (const Error& e) {
    ADD_FAILURE() << e.what();
  }

  Interpreter interpreter(std::move(forward));
  for (size_t i = 0; i < wrt.size(); ++i) {
    const Node& w = wrt[i].node();
    SJ_ASSERT(w.op == Op::input);
    r.numeric.push_back(central_differences(interpreter, "fd_loss", feeds, w.name));
    r.error.push_back(relative_error(r.analytic.at(i), r.numeric.back()));
    std::string elements;
    if (r.error.back() >= options.tolerance)
      for (int64_t k = 0; k < r.numeric.back().num_elements(); ++k)
        elements += fmt::format("\n  element {}: analytic {:.17g}, numeric {:.17g}", k,
                                r.analytic[i].as_double(k), r.numeric.back().as_double(k));
    EXPECT_LT(r.error.back(), options.tolerance)
        << "d loss / d " << w.name << " (" << w.type.str() << ")" << elements;
  }
  return r;
}

/// The second-order check of a first-order loss `loss` over c.wrt(): takes the gradients
/// g_i = d loss / d x_i, forms s = sum_i reduce_sum(g_i * V_i) with random constants V_i (a
/// Hessian-vector product in disguise: d s / d x = H V), and checks d s / d x, built by
/// differentiating the gradient graph, against central differences of s, each of which runs
/// the first-order gradient graph in the interpreter.
inline GradientReport check_second_order(GradCheck& c, Value loss,
                                         const CheckOptions& options = {}) {
  std::vector<Value> first = gradients(loss, c.wrt());
  std::optional<Value> s;
  for (const Value& g : first) {
    Value term = reduce_sum(g * c.weights(g.shape()));
    s = s ? *s + term : term;
  }
  return check_gradients(*s, c.wrt(), c.feeds(), options);
}

/// The nodes of op `op` among nodes [first, end) of `g`.
inline int count_ops(const Graph& g, Op op, ValueId first) {
  int n = 0;
  for (ValueId v = first; v < g.size(); ++v)
    n += g.node(v).op == op;
  return n;
}

} // namespace sj::test

// Randomly generated graphs, compiled against the reference interpreter: 600 fixed-seed graphs
// (SJ_RANDOM_GRAPHS=<n> for another count) of 3 to 30 ops with random shapes (rank 0 to 5,
// sizes with vector tails) and broadcasting, mixing elementwise math, reductions, matmuls,
// layout ops, softmax and cross-entropy, comparisons with select, casts (to integers and back,
// with integer arithmetic), gather, scatter_add and one_hot, constants (what simplify folds),
// and state (variables and assigns, some of them embedding-style updates: gather rows of the
// variable, scatter_add a change back at the same ids); values are reused, so fusion, loop
// groups and memory reuse see many patterns. Each graph has a flavour, drawn from its seed:
// - empty dimensions (two graphs in five): dims of 0 in inputs, variables and attributes,
//   flowing through every op family that accepts them (broadcasting against 1, reductions over
//   empty and non-empty axes where legal, matmul with 0 in M, N or K, reshape, slice, concat of
//   empty pieces, gather, scatter_add and one_hot with empty indices or empty rows, softmax);
// - run-time index errors (35%): the indices of gather and scatter_add and the labels of
//   softmax_cross_entropy go out of range in some of the graph's 3 runs (below 0, at the row
//   count, far above, the dtype's extremes); they are inputs, constants (bad in every run) or
//   integer expressions of inputs that compiled code computes inside the index check (reshape,
//   transpose, + c, neg, slice, concat, cast, a gather from a vocabulary). Sometimes two live
//   nodes fail at once (one input feeding two nodes, or two inputs), sometimes a gather fused
//   into another gather's loop, one whose result is empty, or a gather and a scatter_add
//   updating a variable;
// - dead traps (a quarter): gathers, scatter_adds and cross-entropies nobody uses whose indices
//   are always out of range, and dead duplicates of live index ops; nearly every graph also
//   has dead values (pool values no output uses);
// - resource limits (1 in 25): Limits at the largest live op's work or matmul multiply-adds, or
//   one below, passed to both engines (dead nodes may be over them).
// Two thirds of the graphs go through simplify, a third reach the code generator as generated
// (dead code, duplicates); one in seven runs its compiled step on two threads.
//
// Compared: each graph runs 2 or 3 times on its per-run feeds; before each run the compiled
// step gets the interpreter's variables, so every run starts from the same state. When neither
// engine fails, every output and every variable is compared (tolerances below). A run-time
// error must be the same sj::Error text from both engines, and the one the semantics promise,
// computed here independently of both (a liveness walk and an evaluator of index expressions
// of this file's own): the first node in graph order that is live (an output or an assign needs
// it) with an index out of range, at its first such position, ending "; no variable was
// updated"; after it both engines' variables are bit-identical to what they were before the
// run. A dead node never fails. Graphs over the limits are refused by both with the same
// message, exactly when a live node is over them. Also: the planned arena is never below the
// lower bound, and how close to it it gets. The summary says how many graphs had each flavour.
//
// Numerics by construction: every value carries a bound on its magnitude and whether it is
// exact (computed by the same correctly rounded IEEE operations on both sides: + - * / sqrt,
// max, min, abs, layout, casts, select, gather) or approximate (C math functions, sums,
// matmul, softmax, scatter_add). Unbounded functions get bounded arguments (exp of tanh, log of
// |x| + 1, pow of |a| + 0.5 to tanh(b)), magnitudes are squashed with tanh before they grow
// past 1e3, and the ops that jump (comparisons, float-to-int casts) only see exact values, so a
// rounding difference can never flip them. Exact outputs must match bit for bit; approximate
// ones within 1e-5 (f32, also for f64 values computed from f32 ones) or 1e-10 (f64) of the
// largest magnitude among the values they were computed from.
//
// A mismatch prints the seed, the graph's text form (graph/print.h; `stepjit` reads it back)
// and each failing output alone, simplified; SJ_RANDOM_DUMP=<dir> also writes the graph and
// every run's feeds there, for `stepjit eval <dir>/random_<seed>.sj -i
// x0=<dir>/random_<seed>_run0_x0.npy ...`. SJ_RANDOM_SEED=<seed> runs one graph and prints its
// compile stages and its runs. Known bugs (the minimized tests marked BUG at the end) are
// skipped, and the random graphs of their class are still run, but their mismatches of that
// kind are counted and reported instead of failing; SJ_RUN_KNOWN_BUGS=1 runs the tests and
// fails on those graphs too.
#include "graph/builder.h"
#include "graph/limits.h"
#include "passes/fuse.h"
#include "passes/plan_memory.h"
#include "passes/simplify.h"
#include "runtime/npy.h"
#include "tests/codegen/jit_check_util.h"

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <numeric>
#include <optional>
#include <set>

namespace sj::jit_test {
namespace {

constexpr DType f32 = DType::f32, f64 = DType::f64, i32 = DType::i32, i64 = DType::i64,
                boolean = DType::boolean;

/// How many graphs (~30 ms each to compile): SJ_RANDOM_GRAPHS=<n> for more.
int graph_count() {
  const char* n = std::getenv("SJ_RANDOM_GRAPHS");
  return n ? std::atoi(n) : 600;
}
constexpr int64_t kMaxElements = 600;

/// True when SJ_RUN_KNOWN_BUGS=1: the known-bug tests run (and fail), and the random graphs of
/// a known bug's class fail instead of being counted.
[[maybe_unused]] bool run_known_bugs() {
  const char* v = std::getenv("SJ_RUN_KNOWN_BUGS");
  return v && std::string(v) == "1";
}

/// A value of the graph being generated, with what the generator knows about it.
struct Val {
  Value v;
  bool exact = true;      // bit-identical in compiled code and the interpreter
  double bound = 1;       // |elements| <= bound (floats; a loose estimate)
  double cone = 1;        // the largest bound among the values it was computed from
  bool f32_error = false; // computed from approximate f32 values (even if now f64)
};

using Feeds = std::map<std::string, Tensor>;

/// A node that can fail at run time (gather, scatter_add, softmax_cross_entropy); its indices
/// (or labels) are operand 1.
struct IndexUse {
  ValueId node;
  std::string label; // node_label's text: `gather 'g7'`
  bool labels;       // softmax_cross_entropy: "label ... of the labels"
  int64_t rows;      // valid: [0, rows)
};

/// Where the indices of an index op come from (see Generator::index_source): an input, a
/// constant, or an integer expression of them.
struct IndexSource {
  Val val;
  std::string feed; // a plain input's name (reusable), else ""
};

/// An integer wrapped to dtype t, as integer arithmetic in both engines wraps.
int64_t wrap(DType t, uint64_t v) {
  return t == DType::i32 ? int64_t(int32_t(uint32_t(v))) : int64_t(v);
}
void set_int(Tensor& t, int64_t i, int64_t v) {
  if (t.dtype() == DType::i32)
    t.data<int32_t>()[i] = int32_t(v);
  else
    t.data<int64_t>()[i] = v;
}

/// The value of integer node v for `feeds`, computed here, independently of both engines, for
/// the ops index expressions are made of (input, the generator's integer constants, reshape,
/// transpose of a matrix, slice and concat of vectors, neg, add of a scalar, cast to i64,
/// gather from a vector; a bad index of that gather reads 0, as its own error comes first);
/// nullopt for other ops.
std::optional<Tensor> eval_int(const Graph& g, ValueId v, const Feeds& feeds,
                               const std::map<ValueId, Tensor>& constants) {
  const Node& n = g.node(v);
  std::vector<Tensor> a;
  if (n.op != Op::input && n.op != Op::constant)
    for (ValueId o : n.operands) {
      auto x = eval_int(g, o, feeds, constants);
      if (!x) return std::nullopt;
      a.push_back(std::move(*x));
    }
  Tensor r(n.type);
  int64_t count = r.num_elements();
  switch (n.op) {
  case Op::input:
    return feeds.at(n.name);
  case Op::constant: {
    auto it = constants.find(v);
    if (it == constants.end()) return std::nullopt;
    return it->second;
  }
  case Op::reshape:
  case Op::cast:
    for (int64_t i = 0; i < count; ++i)
      set_int(r, i, a[0].as_int64(i));
    return r;
  case Op::neg:
    for (int64_t i = 0; i < count; ++i)
      set_int(r, i, wrap(r.dtype(), -uint64_t(a[0].as_int64(i))));
    return r;
  case Op::add: // one operand is a scalar
    for (int64_t i = 0; i < count; ++i)
      set_int(r, i,
              wrap(r.dtype(), uint64_t(a[0].as_int64(a[0].num_elements() == 1 ? 0 : i)) +
                                  uint64_t(a[1].as_int64(a[1].num_elements() == 1 ? 0 : i))));
    return r;
  case Op::transpose: { // of a matrix
    int64_t rows = n.type.shape[0], cols = n.type.shape[1];
    for (int64_t i = 0; i < rows; ++i)
      for (int64_t j = 0; j < cols; ++j)
        set_int(r, i * cols + j, a[0].as_int64(j * rows + i));
    return r;
  }
  case Op::slice: { // of a vector
    int64_t begin = n.attrs.ints("begin")[0];
    for (int64_t i = 0; i < count; ++i)
      set_int(r, i, a[0].as_int64(begin + i));
    return r;
  }
  case Op::concat: { // of vectors
    int64_t i = 0;
    for (const Tensor& part : a)
      for (int64_t k = 0; k < part.num_elements(); ++k)
        set_int(r, i++, part.as_int64(k));
    return r;
  }
  case Op::gather: { // from a vector
    int64_t rows = a[0].num_elements();
    for (int64_t i = 0; i < count; ++i) {
      int64_t k = a[1].as_int64(i);
      set_int(r, i, k >= 0 && k < rows ? a[0].as_int64(k) : 0);
    }
    return r;
  }
  default:
    return std::nullopt;
  }
}

/// The first index out of [0, rows) in `t`, as (value, linear position).
std::optional<std::pair<int64_t, int64_t>> first_bad(const Tensor& t, int64_t rows) {
  for (int64_t i = 0; i < t.num_elements(); ++i) {
    int64_t v = t.as_int64(i);
    if (v < 0 || v >= rows) return std::pair{v, i};
  }
  return std::nullopt;
}

/// `[1, 2]`: the coordinates of linear position `p` in `shape`.
std::string coordinates(const Shape& shape, int64_t p) {
  std::vector<int64_t> c(shape.size());
  for (size_t d = shape.size(); d-- > 0;) {
    c[d] = p % shape[d];
    p /= shape[d];
  }
  return fmt::format("[{}]", fmt::join(c, ", "));
}

class Generator {
public:
  explicit Generator(uint64_t seed) : rng_(seed), g_(fmt::format("random_{}", seed)) {
    ft_ = rng_.chance(0.75) ? f32 : f64;
    if (rng_.chance(0.4)) empty_ = rng_.pick(std::vector<double>{0.06, 0.12, 0.25});
    errors_ = rng_.chance(0.35);
    traps_ = rng_.chance(0.25);
    runs_ = errors_ ? 3 : 2;
    bad_feeds_.resize(size_t(runs_));
  }

  Graph& graph() { return g_; }
  const std::vector<Val>& pool() const { return pool_; }
  CheckSpec& spec() { return spec_; }
  const std::vector<IndexUse>& uses() const { return uses_; }
  const std::map<ValueId, Tensor>& constants() const { return constants_; }
  /// The feeds of each run: the base values, with the indices of that run's bad inputs.
  std::vector<Feeds> run_feeds() const {
    std::vector<Feeds> r(size_t(runs_), feeds_);
    for (size_t run = 0; run < r.size(); ++run)
      for (const auto& [name, t] : bad_feeds_[run])
        r[run][name] = t;
    return r;
  }

  void generate() {
    int inputs = int(rng_.between(1, 3));
    for (int i = 0; i < inputs; ++i)
      new_input(random_shape(), ft_);
    if (rng_.chance(0.5)) {
      int vars = int(rng_.between(1, 2));
      for (int i = 0; i < vars; ++i) {
        TensorType t{ft_, random_shape()};
        Value v =
            variable(g_, fmt::format("w{}", i), t, Init::uniform(-1, 1, int64_t(rng_.below(1000))));
        pool_.push_back({v, true, 1, 1});
        variables_.push_back(pool_.back());
      }
    }
    int ops = int(rng_.between(3, 30));
    for (int i = 0; i < ops; ++i) {
      step();
      if (traps_ && rng_.chance(0.12)) trap();
    }
    finish();
  }

private:
  // ---- shapes and values ---------------------------------------------------------------------

  int64_t nonzero_dim() {
    static const std::vector<int64_t> dims = {1, 1, 2, 3, 4, 5, 7, 8, 16, 17, 33};
    return rng_.pick(dims);
  }
  /// A dimension: 0 with the graph's empty_ chance.
  int64_t dim() { return empty_ > 0 && rng_.chance(empty_) ? 0 : nonzero_dim(); }
  Shape random_shape() {
    // Sometimes one element: such values are flat whatever they read, so they join loop groups.
    if (rng_.chance(0.08)) return Shape(size_t(rng_.below(3)), 1);
    for (;;) {
      int rank = int(rng_.pick(std::vector<int64_t>{0, 1, 1, 2, 2, 2, 3, 3, 4}));
      Shape s;
      for (int d = 0; d < rank; ++d)
        s.push_back(dim());
      if (num_elements(s) <= kMaxElements) return s;
    }
  }
  /// A shape that broadcasts with `s`: trailing dimensions of s, some set to 1.
  Shape broadcast_partner(const Shape& s) {
    size_t drop = size_t(rng_.below(int64_t(s.size()) + 1));
    Shape r(s.begin() + drop, s.end());
    for (int64_t& d : r)
      if (rng_.chance(0.3)) d = 1;
    // Sometimes the partner has the extra dimensions (and `s` broadcasts to it).
    if (rng_.chance(0.2) && s.size() < 3 && num_elements(s) * 3 <= kMaxElements) {
      r = s;
      r.insert(r.begin(), 3);
    }
    return r;
  }

  Val new_input(const Shape& shape, DType t, double lo = -2, double hi = 2) {
    std::string name = fmt::format("x{}", inputs_++);
    Dist d = is_int(t) ? Dist::ints(int64_t(lo), int64_t(hi)) : Dist::uniform(lo, hi);
    feeds_[name] = sample({t, shape}, d, rng_);
    Val v{input(g_, name, {t, shape}), true, std::max(std::abs(lo), std::abs(hi)), 1};
    v.cone = v.bound;
    pool_.push_back(v);
    return v;
  }

  /// A constant tensor (a splat, or values like an input's): what simplify folds.
  Val new_constant(const Shape& shape, DType t) {
    Value c = rng_.chance(0.4) ? fill(g_, {t, shape}, std::round(rng_.uniform(-2, 2) * 8) / 8)
                               : constant(g_, sample({t, shape}, Dist::uniform(-2, 2), rng_));
    return add({c, true, 2, 2});
  }

  /// Picks a pool value satisfying `ok`: the most recent one 40% of the time (chains), else any
  /// (reuse: values with several users).
  std::optional<Val> pick(const std::function<bool(const Val&)>& ok) {
    std::vector<size_t> c;
    for (size_t i = 0; i < pool_.size(); ++i)
      if (ok(pool_[i])) c.push_back(i);
    if (c.empty()) return std::nullopt;
    if (rng_.chance(0.4)) return pool_[c.back()];
    return pool_[rng_.pick(c)];
  }
  Val pick_float() {
    auto v = pick([](const Val& x) { return is_float(x.v.dtype()); });
    return v ? *v : new_input(random_shape(), ft_);
  }
  Val add(Val v) {
    pool_.push_back(v);
    return v;
  }
  /// v itself, or tanh(v) when its magnitude might exceed `limit`.
  Val tame(Val v, double limit = 1e3) {
    if (v.bound <= limit) return v;
    return derived(tanh(v.v), false, 1, {v});
  }
  static Val derived(Value v, bool exact, double bound, std::initializer_list<Val> from) {
    double cone = bound;
    bool f32_error = !exact && v.dtype() == f32;
    for (const Val& f : from) {
      cone = std::max(cone, f.cone);
      f32_error = f32_error || f.f32_error;
    }
    return {v, exact, bound, cone, f32_error};
  }

  /// A partner for binary ops on `a`: a pool value of the same dtype whose shape broadcasts
  /// with a's, or a new input of a broadcasting shape, or a scalar constant.
  Val partner(const Val& a) {
    DType t = a.v.dtype();
    const Shape& s = a.v.shape();
    if (rng_.chance(0.6)) {
      auto b = pick([&](const Val& x) {
        if (x.v.dtype() != t) return false;
        auto r = broadcast(s, x.v.shape());
        return r && num_elements(*r) <= kMaxElements * 2;
      });
      if (b) return *b;
    }
    if (rng_.chance(0.15)) {
      double c = std::round(rng_.uniform(-3, 3) * 4) / 4;
      return {scalar(g_, c, t), true, std::abs(c), std::abs(c)};
    }
    if (rng_.chance(0.08)) return new_constant(broadcast_partner(s), t);
    return new_input(broadcast_partner(s), t);
  }
  static std::optional<Shape> broadcast(const Shape& a, const Shape& b) {
    size_t rank = std::max(a.size(), b.size());
    Shape out(rank);
    for (size_t i = 0; i < rank; ++i) {
      int64_t da = i < rank - a.size() ? 1 : a[i - (rank - a.size())];
      int64_t db = i < rank - b.size() ? 1 : b[i - (rank - b.size())];
      if (da != db && da != 1 && db != 1) return std::nullopt;
      out[i] = da == 1 ? db : da;
    }
    return out;
  }

  // ---- one random op -------------------------------------------------------------------------

  void step() {
    // Graphs with run-time errors have more index ops.
    int index_weight = errors_ ? 14 : 5;
    int k = int(rng_.below(100 + index_weight));
    if (k < 24) return unary();
    if (k < 48) return binary();
    if (k < 56) return reduction();
    if (k < 62) return matmul_op();
    if (k < 67) return transpose_op();
    if (k < 72) return reshape_op();
    if (k < 76) return slice_op();
    if (k < 80) return concat_op();
    if (k < 83) return broadcast_op();
    if (k < 87) return softmax_op();
    if (k < 93) return select_op();
    if (k < 97) return cast_op();
    return index_op();
  }

  void unary() {
    Val x = pick_float();
    Value v = x.v;
    double b = x.bound;
    switch (rng_.below(17)) {
    case 0:
      add(derived(neg(v), x.exact, b, {x}));
      break;
    case 1:
      add(derived(abs(v), x.exact, b, {x}));
      break;
    case 2:
      add(derived(exp(tanh(v) * 2.0), false, 7.4, {x}));
      break;
    case 3:
      add(derived(log(abs(v) + 1.0), false, std::log(b + 1), {x}));
      break;
    case 4:
      add(derived(sqrt(abs(v) + 0.25), x.exact, std::sqrt(b + 0.25), {x}));
      break;
    case 5:
      add(derived(rsqrt(abs(v) + 1.0), false, 1, {x}));
      break;
    case 6: {
      Val t = tame(x, 30);
      add(derived(square(t.v), t.exact, t.bound * t.bound, {t}));
      break;
    }
    case 7:
      add(derived(relu(v), x.exact, b, {x}));
      break;
    case 8:
      add(derived(sigmoid(v), false, 1, {x}));
      break;
    case 9:
      add(derived(tanh(v), false, 1, {x}));
      break;
    case 10:
      add(derived(gelu(v, rng_.chance(0.5)), false, b, {x}));
      break;
    case 11:
      add(derived(softplus(v), false, b + 1, {x}));
      break;
    case 12:
      add(derived(erf(v), false, 1, {x}));
      break;
    case 13:
      add(derived(sin(v), false, 1, {x}));
      break;
    case 14:
      add(derived(cos(v), false, 1, {x}));
      break;
    case 15:
      add(derived(stop_gradient(v), x.exact, b, {x}));
      break;
    default:
      // A short chain, so fusion sees several inlined values in a row.
      add(derived(relu(neg(v) * 0.5 + 1.0), x.exact, b * 0.5 + 1, {x}));
      break;
    }
  }

  void binary() {
    Val a = pick_float();
    Val b = partner(a);
    bool exact = a.exact && b.exact;
    switch (rng_.below(7)) {
    case 0:
      add(derived(sj::add(a.v, b.v), exact, a.bound + b.bound, {a, b}));
      break;
    case 1:
      add(derived(sub(a.v, b.v), exact, a.bound + b.bound, {a, b}));
      break;
    case 2: {
      a = tame(a, 30);
      b = tame(b, 30);
      add(derived(mul(a.v, b.v), a.exact && b.exact, a.bound * b.bound, {a, b}));
      break;
    }
    case 3:
      add(derived(div(a.v, abs(b.v) + 0.5), exact, a.bound * 2, {a, b}));
      break;
    case 4:
      add(derived(maximum(a.v, b.v), exact, std::max(a.bound, b.bound), {a, b}));
      break;
    case 5:
      add(derived(minimum(a.v, b.v), exact, std::max(a.bound, b.bound), {a, b}));
      break;
    default:
      add(derived(pow(abs(a.v) + 0.5, tanh(b.v) * 2.0), false,
                  std::max(std::pow(a.bound + 0.5, 2.0), 4.0), {a, b}));
      break;
    }
  }

  void reduction() {
    auto xo = pick([](const Val& x) { return x.v.dtype() != boolean; });
    if (!xo) return;
    Val x = *xo;
    int rank = x.v.rank();
    std::vector<int64_t> axes;
    for (int d = 0; d < rank; ++d)
      if (rng_.chance(0.5)) axes.push_back(rng_.chance(0.3) ? d - rank : d);
    Axes a = rng_.chance(0.2) ? Axes::all() : Axes(axes);
    bool keepdims = rng_.chance(0.3);
    // Over an empty axis only a sum is legal (max and mean have no identity): then a sum.
    int64_t count = 1;
    for (int d = 0; d < rank; ++d)
      if (a.every || std::count(axes.begin(), axes.end(), d) ||
          std::count(axes.begin(), axes.end(), d - rank))
        count *= x.v.shape()[size_t(d)];
    if (is_int(x.v.dtype())) {
      bool sum = count == 0 || rng_.chance(0.5);
      add(derived(sum ? reduce_sum(x.v, a, keepdims) : reduce_max(x.v, a, keepdims), true,
                  sum ? x.bound * double(count) : x.bound, {x}));
      return;
    }
    switch (count == 0 ? 2 : rng_.below(3)) {
    case 0:
      add(derived(reduce_max(x.v, a, keepdims), x.exact, x.bound, {x}));
      break;
    case 1:
      add(derived(reduce_mean(x.v, a, keepdims), false, x.bound, {x}));
      break;
    default:
      add(derived(reduce_sum(x.v, a, keepdims), false,
                  x.bound * double(std::max<int64_t>(count, 1)), {x}));
      break;
    }
  }

  void matmul_op() {
    Val a = tame(pick_float(), 30);
    Shape s = a.v.shape();
    Value av = a.v;
    if (s.size() < 2) {
      av = reshape(av, {1, num_elements(s)});
      s = av.shape();
    }
    bool ta = rng_.chance(0.3), tb = rng_.chance(0.3);
    int64_t k = ta ? s[s.size() - 2] : s.back();
    int64_t m = ta ? s.back() : s[s.size() - 2];
    if (k > 64) return;
    int64_t batch = num_elements(Shape(s.begin(), s.end() - 2)); // M, N or K may be 0
    int64_t n = dim();
    if (batch * m * n > kMaxElements) n = 1;
    Shape bs = tb ? Shape{n, k} : Shape{k, n};
    if (s.size() > 2 && rng_.chance(0.4)) bs.insert(bs.begin(), s[s.size() - 3]);
    if (s.size() == 2 && rng_.chance(0.2) && m * n * 2 <= kMaxElements) bs.insert(bs.begin(), 2);
    // The right operand: a pool value of that shape if there is one, else a new input.
    auto b = pick([&](const Val& x) { return x.v.dtype() == a.v.dtype() && x.v.shape() == bs; });
    Val bv = b ? tame(*b, 30) : new_input(bs, a.v.dtype(), -1, 1);
    add(derived(matmul(av, bv.v, {.transpose_a = ta, .transpose_b = tb}), false,
                a.bound * bv.bound * double(std::max<int64_t>(k, 1)), {a, bv}));
  }

  void transpose_op() {
    auto x = pick([](const Val& v) { return v.v.rank() >= 1; });
    if (!x) return;
    std::vector<int64_t> perm(size_t(x->v.rank()));
    std::iota(perm.begin(), perm.end(), 0);
    for (size_t i = perm.size(); i-- > 1;)
      std::swap(perm[i], perm[size_t(rng_.below(int64_t(i) + 1))]);
    add(derived(transpose(x->v, perm), x->exact, x->bound, {*x}));
  }

  void reshape_op() {
    auto x = pick([](const Val&) { return true; });
    if (!x) return;
    int64_t n = x->v.type().num_elements();
    // Spread the prime factors of n over 1 to 4 dimensions; sometimes leave one as -1.
    std::vector<int64_t> factors;
    for (int64_t p = 2, r = n; r > 1; ++p)
      while (r % p == 0) {
        factors.push_back(p);
        r /= p;
      }
    if (n == 0) { // any shape with a 0 in it (-1 would be ambiguous)
      Shape s(size_t(rng_.between(1, 4)));
      for (int64_t& d : s)
        d = rng_.pick(std::vector<int64_t>{1, 2, 3, 5});
      s[size_t(rng_.below(int64_t(s.size())))] = 0;
      add(derived(reshape(x->v, s), x->exact, x->bound, {*x}));
      return;
    }
    Shape s(size_t(rng_.between(1, 4)), 1);
    for (int64_t f : factors)
      s[size_t(rng_.below(int64_t(s.size())))] *= f;
    if (rng_.chance(0.3)) s[size_t(rng_.below(int64_t(s.size())))] = -1;
    if (n == 1 && rng_.chance(0.3)) s = {};
    add(derived(reshape(x->v, s), x->exact, x->bound, {*x}));
  }

  void slice_op() {
    auto x = pick([](const Val& v) { return v.v.rank() >= 1; });
    if (!x) return;
    std::vector<int64_t> begin, end;
    for (int64_t d : x->v.shape()) {
      int64_t b = rng_.below(d + 1), e = rng_.below(d + 1);
      if (b > e) std::swap(b, e);
      if (b == e && rng_.chance(0.9)) { // mostly non-empty
        b = 0;
        e = d;
      }
      begin.push_back(b);
      end.push_back(e);
    }
    add(derived(slice(x->v, begin, end), x->exact, x->bound, {*x}));
  }

  void concat_op() {
    auto xo = pick([](const Val& v) { return v.v.rank() >= 1; });
    if (!xo) return;
    Val x = *xo;
    int rank = x.v.rank();
    int axis = int(rng_.below(rank));
    std::vector<Value> parts = {x.v};
    bool exact = x.exact;
    double bound = x.bound, cone = x.cone;
    bool f32_error = x.f32_error;
    int more = int(rng_.between(1, 2));
    for (int i = 0; i < more; ++i) {
      Shape s = x.v.shape();
      auto other = pick([&](const Val& v) {
        if (v.v.dtype() != x.v.dtype() || v.v.rank() != rank) return false;
        for (int d = 0; d < rank; ++d)
          if (d != axis && v.v.shape()[size_t(d)] != s[size_t(d)]) return false;
        return true;
      });
      Val o;
      if (other && rng_.chance(0.7)) {
        o = *other; // maybe x itself: a value used twice by one node
      } else {
        s[size_t(axis)] = rng_.between(0, 3);
        o = new_input(s, x.v.dtype());
      }
      parts.push_back(o.v);
      exact = exact && o.exact;
      bound = std::max(bound, o.bound);
      cone = std::max(cone, o.cone);
      f32_error = f32_error || o.f32_error;
    }
    Value c = concat(parts, rng_.chance(0.3) ? axis - rank : axis);
    if (c.type().num_elements() > kMaxElements * 2) return;
    Val r = derived(c, exact, bound, {x});
    r.cone = std::max(r.cone, cone);
    r.f32_error = r.f32_error || f32_error;
    add(r);
  }

  void broadcast_op() {
    Val x = pick_float();
    Shape s = x.v.shape();
    for (int64_t& d : s)
      if (d == 1 && rng_.chance(0.5)) d = dim();
    if (s.size() < 4 && rng_.chance(0.5)) s.insert(s.begin(), dim());
    if (num_elements(s) > kMaxElements) return;
    add(derived(broadcast_to(x.v, s), x.exact, x.bound, {x}));
  }

  void softmax_op() {
    auto xo = pick([](const Val& v) { return is_float(v.v.dtype()) && v.v.rank() >= 1; });
    if (!xo) return;
    Val x = *xo;
    int rank = x.v.rank();
    int64_t axis = rng_.chance(0.5) ? -1 : rng_.below(rank);
    switch (rng_.below(3)) {
    case 0:
      add(derived(softmax(x.v, axis), false, 1, {x}));
      break;
    case 1:
      add(derived(log_softmax(x.v, axis), false, 2 * x.bound + 7, {x}));
      break;
    default:
      cross_entropy_op(x);
      break;
    }
  }

  void select_op() {
    // The condition compares exact values only, so no rounding difference can flip it.
    auto a = pick([](const Val& v) { return v.exact && v.v.dtype() != boolean; });
    if (!a) return;
    auto b = pick([&](const Val& v) {
      return v.exact && v.v.dtype() == a->v.dtype() && broadcast(a->v.shape(), v.v.shape());
    });
    Val bv = b ? *b : new_input(broadcast_partner(a->v.shape()), a->v.dtype());
    Value cond;
    switch (rng_.below(4)) {
    case 0:
      cond = greater(a->v, bv.v);
      break;
    case 1:
      cond = greater_equal(a->v, bv.v);
      break;
    case 2:
      cond = less(a->v, bv.v);
      break;
    default:
      cond = equal(a->v, bv.v);
      break;
    }
    add({cond, true, 1, 1});
    if (rng_.chance(0.2)) return; // the bool itself, maybe an output
    Val x = pick_float();
    auto y = pick([&](const Val& v) {
      return v.v.dtype() == x.v.dtype() && broadcast(x.v.shape(), v.v.shape()) &&
             broadcast(*broadcast(x.v.shape(), v.v.shape()), cond.shape());
    });
    if (!y || !broadcast(x.v.shape(), cond.shape())) {
      add(derived(select(cond, a->v, bv.v), true, std::max(a->bound, bv.bound), {*a, bv}));
      return;
    }
    add(derived(select(cond, x.v, y->v), x.exact && y->exact, std::max(x.bound, y->bound),
                {x, *y}));
  }

  void cast_op() {
    auto xo = pick([](const Val&) { return true; });
    if (!xo) return;
    Val x = *xo;
    DType from = x.v.dtype();
    if (is_float(from)) {
      if (!x.exact || rng_.chance(0.4)) { // to the other float dtype: continuous
        add(derived(cast(x.v, from == f32 ? f64 : f32), x.exact, x.bound, {x}));
        return;
      }
      DType to = rng_.pick(std::vector<DType>{i32, i64, boolean});
      // Scaled, so truncation gives a spread of integers.
      Val t = add(derived(cast(x.v * 4.0, to), true, 4 * x.bound, {x}));
      if (to != boolean && rng_.chance(0.5)) int_ops(t);
      return;
    }
    // Integers and bools back to a float dtype; large integers (wrapped) squashed.
    Value f = cast(x.v, rng_.chance(0.8) ? ft_ : (ft_ == f32 ? f64 : f32));
    if (x.bound > 1e4)
      add(derived(tanh(f * 1e-6), false, 1, {}));
    else
      add(derived(f, true, x.bound, {x}));
  }

  /// Integer arithmetic on t (wrapping), then back to float.
  void int_ops(Val t) {
    Value v = t.v;
    switch (rng_.below(5)) {
    case 0:
      v = sj::add(v, v) * v;
      break;
    case 1:
      v = maximum(neg(v), abs(v) - 1.0);
      break;
    case 2:
      v = minimum(square(v), relu(v));
      break;
    case 3:
      v = reduce_sum(v);
      break;
    default:
      v = sub(v, scalar_like(v, 3));
      break;
    }
    // Wrapped integers can have any magnitude: squash them after the cast.
    add(derived(v, true, 1e30, {}));
    add(derived(tanh(cast(v, ft_) * 1e-6), false, 1, {}));
  }

  // ---- index ops: gather, scatter_add, one_hot, cross-entropy ---------------------------------

  enum class Indices { valid, may_fail, always_bad };

  /// An index value out of [0, rows) for dtype t.
  int64_t bad_index(int64_t rows, DType t) {
    switch (rng_.below(7)) {
    case 0:
      return rows;
    case 1:
      return rows + rng_.between(1, 5);
    case 2:
      return -1;
    case 3:
      return -rng_.between(2, 40);
    case 4:
      return t == i32 ? std::numeric_limits<int32_t>::max() : int64_t{1} << 40;
    case 5:
      return t == i32 ? std::numeric_limits<int32_t>::min() : std::numeric_limits<int64_t>::min();
    default:
      return t == i32 ? rows + 1000 : std::numeric_limits<int64_t>::max();
    }
  }
  /// Sets one or two elements of `t` to indices out of [0, rows).
  void spoil(Tensor& t, int64_t rows) {
    int count = int(std::min<int64_t>(rng_.between(1, 2), t.num_elements()));
    for (int c = 0; c < count; ++c) {
      int64_t p = rng_.below(t.num_elements()), v = bad_index(rows, t.dtype());
      if (t.dtype() == i32)
        t.data<int32_t>()[p] = int32_t(v);
      else
        t.data<int64_t>()[p] = v;
    }
  }

  /// The indices (or labels) of an index op into `rows` rows, of shape `shape`: an earlier
  /// index input whose values fit (one input feeding several index ops), a new input (or, one
  /// time in ten, a constant), or, a third of the time, an integer expression of new ones
  /// (index_expression), which compiled code computes inside the op's index check. `may_fail`
  /// inputs (graphs with errors only) go out of range in one or two of the runs; `always_bad`
  /// ones in every run (dead traps). A table without rows makes any index bad: only where errors
  /// are wanted.
  std::optional<IndexSource> index_source(const Shape& shape, int64_t rows, Indices mode) {
    int64_t n = num_elements(shape);
    if (rows == 0 && n > 0 && mode == Indices::valid) return std::nullopt;
    if (mode == Indices::may_fail && (n == 0 || !rng_.chance(0.6))) mode = Indices::valid;
    if (mode != Indices::always_bad && rng_.chance(0.3))
      for (const IndexSource& s : index_inputs_) {
        const Tensor& base = feeds_.at(s.feed);
        if (base.shape() == shape && !first_bad(base, rows)) return s;
      }
    DType t = rng_.chance(0.5) ? i32 : i64;
    Tensor want = sample({t, shape}, Dist::ints(0, std::max<int64_t>(rows - 1, 0)), rng_);
    if (rows == 0) want = sample({t, shape}, Dist::ints(0, 3), rng_); // all bad
    if (rng_.chance(0.3))
      if (auto e = index_expression(want, rows, mode)) return IndexSource{*e, ""};
    Val v = leaf(want, rows, mode);
    IndexSource s{v, v.v.node().op == Op::input ? v.v.node().name : ""};
    if (mode != Indices::always_bad && rows > 0 && !s.feed.empty()) index_inputs_.push_back(s);
    return s;
  }

  /// An input (or constant) of integers `base`, out of [0, rows) as `mode` says.
  Val leaf(Tensor base, int64_t rows, Indices mode) {
    if (mode == Indices::always_bad) spoil(base, rows);
    // A constant: valid, or out of range in every run (a dead trap, or live in a graph with
    // errors, failing every run).
    bool constant_bad = mode == Indices::may_fail && base.num_elements() > 0 && rng_.chance(0.05);
    if (constant_bad) spoil(base, rows);
    if (constant_bad || (mode != Indices::may_fail && rng_.chance(0.1))) {
      Value c = constant(g_, base);
      constants_[c.id()] = base;
      return {c, true, 1e30, 1e30};
    }
    std::string name = fmt::format("x{}", inputs_++);
    if (mode == Indices::may_fail) {
      // Which runs get bad indices: mostly one of the later ones (the first run then updates
      // the variables, the failing one must not), sometimes two, sometimes the first.
      std::vector<int> bad = {int(rng_.between(1, runs_ - 1))};
      if (rng_.chance(0.2)) bad = {1, 2};
      if (rng_.chance(0.1)) bad.push_back(0);
      for (int run : bad) {
        Tensor spoiled = base;
        spoil(spoiled, rows);
        bad_feeds_[size_t(run)][name] = spoiled;
      }
    }
    Val v{input(g_, name, base.type()), true, mode == Indices::valid ? double(rows + 3) : 1e30};
    feeds_[name] = std::move(base);
    v.cone = v.bound;
    if (mode != Indices::always_bad) pool_.push_back(v); // (also read as integers elsewhere)
    return v;
  }

  /// Indices equal to `want` (valid, but for what `mode` spoils) computed from new inputs: a
  /// reshape, a transpose, an added constant, a negation, a slice, a concat, a cast to i64, or
  /// a gather from a vocabulary (itself an index op that can fail).
  std::optional<Val> index_expression(const Tensor& want, int64_t rows, Indices mode) {
    DType t = want.dtype();
    Shape s = want.shape();
    int64_t n = want.num_elements();
    auto values = [&](Shape shape, auto f) {
      Tensor r(TensorType{t, std::move(shape)});
      for (int64_t i = 0; i < r.num_elements(); ++i)
        set_int(r, i, f(i));
      return r;
    };
    auto exact = [](Value v) { return Val{v, true, 1e30, 1e30}; };
    switch (rng_.below(8)) {
    case 0: { // reshape
      Shape from = s.size() == 1 ? Shape{1, n} : Shape{n};
      Val x = leaf(values(from, [&](int64_t i) { return want.as_int64(i); }), rows, mode);
      return exact(reshape(x.v, s));
    }
    case 1: { // transpose
      if (s.size() != 2) return std::nullopt;
      Val x = leaf(values({s[1], s[0]},
                          [&](int64_t i) { return want.as_int64((i % s[0]) * s[1] + i / s[0]); }),
                   rows, mode);
      return exact(transpose(x.v, {1, 0}));
    }
    case 2: { // + c, the scalar constant first or second
      int64_t c = rng_.between(-3, 3);
      Val x = leaf(values(s, [&](int64_t i) { return want.as_int64(i) - c; }), rows, mode);
      Value k = scalar(g_, double(c), t);
      constants_[k.id()] = values({}, [&](int64_t) { return c; });
      return exact(rng_.chance(0.5) ? sj::add(x.v, k) : sj::add(k, x.v));
    }
    case 3: { // neg
      Val x = leaf(values(s, [&](int64_t i) { return -want.as_int64(i); }), rows, mode);
      return exact(neg(x.v));
    }
    case 4: { // slice of a longer vector
      if (s.size() != 1) return std::nullopt;
      int64_t before = rng_.between(0, 3), after = rng_.between(0, 3);
      Tensor base =
          sample({t, {before + n + after}}, Dist::ints(0, std::max<int64_t>(rows - 1, 0)), rng_);
      for (int64_t i = 0; i < n; ++i)
        set_int(base, before + i, want.as_int64(i));
      Val x = leaf(base, rows, mode);
      return exact(slice(x.v, {before}, {before + n}));
    }
    case 5: { // concat of two vectors (one maybe empty)
      if (s.size() != 1) return std::nullopt;
      int64_t k = rng_.between(0, n);
      Val x = leaf(values({k}, [&](int64_t i) { return want.as_int64(i); }), rows, mode);
      Val y = leaf(values({n - k}, [&](int64_t i) { return want.as_int64(k + i); }), rows, mode);
      return exact(concat({x.v, y.v}, 0));
    }
    case 6: { // cast from i32
      if (t != i64) return std::nullopt;
      Tensor base(TensorType{i32, s});
      for (int64_t i = 0; i < n; ++i)
        set_int(base, i, want.as_int64(i));
      Val x = leaf(base, rows, mode);
      return exact(cast(x.v, i64));
    }
    default: { // vocabulary[j]: the vocabulary's entries are the indices
      int64_t size = rng_.between(1, 6);
      Tensor vocab = sample({t, {size}}, Dist::ints(0, std::max<int64_t>(rows - 1, 0)), rng_);
      if (rows == 0) vocab = sample({t, {size}}, Dist::ints(0, 3), rng_);
      Val v = leaf(vocab, rows, mode);
      Val j = leaf(sample({rng_.chance(0.5) ? i32 : i64, s}, Dist::ints(0, size - 1), rng_), size,
                   mode);
      return exact(record(gather(v.v, j.v), size, "vocab"));
    }
    }
  }
  Indices index_mode() { return errors_ ? Indices::may_fail : Indices::valid; }

  /// Names a node that can fail (so its error names it) and records it.
  Value record(Value v, int64_t rows, const char* prefix) {
    std::string name = fmt::format("{}{}", prefix, v.id());
    v = named(v, name);
    uses_.push_back({v.id(), fmt::format("{} '{}'", op_name(v.node().op), name),
                     v.node().op == Op::softmax_cross_entropy, rows});
    return v;
  }

  Shape index_shape() {
    Shape s;
    int rank = int(rng_.pick(std::vector<int64_t>{0, 1, 1, 1, 2}));
    for (int d = 0; d < rank; ++d)
      s.push_back(std::min<int64_t>(dim(), 8));
    return s;
  }

  void index_op() {
    int k = int(rng_.below(100));
    if (k < 45) return gather_op();
    if (k < 70) return scatter_op();
    if (k < 82) return one_hot_op();
    auto x = pick([](const Val& v) { return is_float(v.v.dtype()) && v.v.rank() >= 1; });
    if (x) cross_entropy_op(*x);
  }

  void gather_op() {
    auto t = pick([](const Val& v) { return v.v.rank() >= 1; });
    // Sometimes from a constant table (folded by simplify if its indices are constants too,
    // unless they are out of range: then it fails at run time).
    if (!t || rng_.chance(0.1)) t = new_constant({nonzero_dim(), std::min<int64_t>(dim(), 4)}, ft_);
    Shape ts = t->v.shape();
    int64_t rows = ts[0], row = num_elements(Shape(ts.begin() + 1, ts.end()));
    Shape is = index_shape();
    if (num_elements(is) * row > kMaxElements) return;
    auto idx = index_source(is, rows, index_mode());
    if (!idx) return;
    // A dead duplicate first (dead code; CSE may merge the two): only the live one may fail.
    if (rng_.chance(traps_ ? 0.3 : 0.05)) record(gather(t->v, idx->val.v), rows, "dup");
    Value r = record(gather(t->v, idx->val.v), rows, "g");
    // Sometimes gathered again at once: the first gather is fused into the second's loop,
    // which reads only some of its elements, yet every index of both is checked.
    if (r.rank() >= 1 && rng_.chance(0.25)) {
      int64_t rows2 = r.shape()[0];
      Shape is2 = {std::min<int64_t>(dim(), 8)};
      auto idx2 = index_source(is2, rows2, index_mode());
      if (idx2 && num_elements(is2) * row <= kMaxElements) {
        indexed_.push_back(
            add(derived(record(gather(r, idx2->val.v), rows2, "g"), t->exact, t->bound, {*t})));
        return;
      }
    }
    indexed_.push_back(add(derived(r, t->exact, t->bound, {*t})));
  }

  void scatter_op() {
    auto u = pick([](const Val& v) { return v.v.dtype() != boolean; });
    if (!u) return;
    Shape us = u->v.shape();
    size_t k = size_t(rng_.below(std::min<int64_t>(u->v.rank(), 2) + 1));
    Shape is(us.begin(), us.begin() + int64_t(k));
    int64_t row = num_elements(Shape(us.begin() + int64_t(k), us.end()));
    int64_t rows = dim();
    if (rows * row > kMaxElements) rows = 1;
    if (rows * row > kMaxElements) return;
    auto idx = index_source(is, rows, index_mode());
    if (!idx) return;
    Value r = record(scatter_add(u->v, idx->val.v, rows), rows, "s");
    double terms = double(std::max<int64_t>(num_elements(is), 1));
    indexed_.push_back(add(derived(r, is_int(r.dtype()), u->bound * terms, {*u})));
  }

  void one_hot_op() {
    // Out of [0, depth) gives a zero row, not an error.
    int64_t depth = nonzero_dim();
    Val idx = new_input(index_shape(), rng_.chance(0.5) ? i32 : i64, -2, double(depth + 1));
    add({one_hot(idx.v, depth, rng_.chance(0.8) ? ft_ : boolean), true, 1, 1});
  }

  void cross_entropy_op(const Val& x) {
    Shape xs = x.v.shape(); // a copy: shape() returns by value
    int64_t classes = xs.back();
    Shape rows(xs.begin(), xs.end() - 1);
    if (classes == 0 || num_elements(rows) == 0) return;
    auto labels = index_source(rows, classes, index_mode());
    if (!labels) return;
    Value r = record(softmax_cross_entropy(x.v, labels->val.v), classes, "ce");
    indexed_.push_back(add(derived(r, false, 2 * x.bound + 7, {x})));
  }

  /// Dead code that would fail: an index op nobody uses whose indices are out of range in every
  /// run, sometimes with a dead user of its own.
  void trap() {
    int kind = int(rng_.below(3));
    Value r;
    if (kind == 0) {
      auto t = pick([](const Val& v) { return v.v.rank() >= 1; });
      if (!t) return;
      Shape is = {rng_.between(1, 4)};
      auto idx = index_source(is, t->v.shape()[0], Indices::always_bad);
      r = record(gather(t->v, idx->val.v), t->v.shape()[0], "dead");
    } else if (kind == 1) {
      auto u = pick([](const Val& v) { return v.v.rank() >= 1 && v.v.dtype() != boolean; });
      if (!u) return;
      int64_t rows = dim();
      if (rows * (u->v.type().num_elements() / std::max<int64_t>(u->v.shape()[0], 1)) >
          kMaxElements)
        return;
      auto idx = index_source({u->v.shape()[0]}, rows, Indices::always_bad);
      if (!idx) return;
      r = record(scatter_add(u->v, idx->val.v, rows), rows, "dead");
    } else {
      auto x = pick([](const Val& v) {
        Shape s = v.v.shape();
        return is_float(v.v.dtype()) && v.v.rank() >= 1 && s.back() > 0 &&
               num_elements(Shape(s.begin(), s.end() - 1)) > 0;
      });
      if (!x) return;
      Shape xs = x->v.shape();
      auto idx = index_source(Shape(xs.begin(), xs.end() - 1), xs.back(), Indices::always_bad);
      r = record(softmax_cross_entropy(x->v, idx->val.v), xs.back(), "dead");
    }
    if (is_float(r.dtype()) && rng_.chance(0.5)) (void)reduce_sum(neg(r));
  }

  // ---- outputs and assigns -------------------------------------------------------------------

  void finish() {
    std::vector<Val> outs = {pool_.back()};
    int more = int(rng_.below(3));
    for (int i = 0; i < more; ++i)
      outs.push_back(pool_[size_t(rng_.below(int64_t(pool_.size())))]);
    // Graphs with errors mostly output an index op too (else most of them would be dead).
    if (errors_ && !indexed_.empty() && rng_.chance(0.75)) outs.push_back(rng_.pick(indexed_));
    std::set<ValueId> seen;
    for (size_t i = 0; i < outs.size(); ++i) {
      if (!seen.insert(outs[i].v.id()).second && rng_.chance(0.5)) continue;
      std::string name = fmt::format("out{}", i);
      output(name, outs[i].v);
      spec_.output_tol[name] = outs[i].exact ? Tol::exact : Tol::accumulate;
      spec_.output_floor[name] = std::max(1.0, outs[i].cone);
      if (outs[i].f32_error) spec_.output_precision[name] = f32;
    }
    // Variables: a new value of each, most of the time.
    bool exact_state = true;
    for (const Val& w : variables_) {
      if (!rng_.chance(0.7)) continue;
      if (w.v.rank() >= 1 && rng_.chance(0.35) && embedding_update(w)) {
        exact_state = false;
        continue;
      }
      Val src = pick_float();
      if (src.f32_error || !src.exact) spec_.variable_precision = f32;
      Value update;
      if (src.v.shape() == w.v.shape() && src.v.dtype() == w.v.dtype() && rng_.chance(0.5)) {
        update = w.v * 0.5 + tame(src, 10).v * 0.1; // exact if src is
        exact_state = exact_state && src.exact;
      } else {
        Value s = src.v.type().num_elements() > 0 ? reduce_mean(tanh(src.v)) : reduce_sum(src.v);
        if (s.dtype() == f32) spec_.variable_precision = f32; // (an f32 mean in an f64 graph)
        if (s.dtype() != w.v.dtype()) s = cast(s, w.v.dtype());
        update = w.v * 0.9 + s * 0.1;
        exact_state = false;
      }
      assign(w.v, update);
    }
    spec_.variable_tol = exact_state ? Tol::exact : Tol::accumulate;
  }

  /// An embedding's training step: gather rows of w by ids, scatter_add a change of them back
  /// at the same ids (two nodes failing on the same bad ids; the gather is first).
  bool embedding_update(const Val& w) {
    Shape ws = w.v.shape();
    int64_t rows = ws[0], row = num_elements(Shape(ws.begin() + 1, ws.end()));
    Shape is = {std::min<int64_t>(dim(), 8)};
    if (num_elements(is) * row > kMaxElements) return false;
    auto ids = index_source(is, rows, index_mode());
    if (!ids) return false;
    Value got = record(gather(w.v, ids->val.v), rows, "g");
    Value change = record(scatter_add(tanh(got) * 0.1, ids->val.v, rows), rows, "s");
    assign(w.v, w.v - change);
    if (ft_ == f32) spec_.variable_precision = f32;
    return true;
  }

  Rng rng_;
  Graph g_;
  DType ft_;
  double empty_ = 0;    // the chance that a dimension is 0
  bool errors_ = false; // index inputs go out of range in some runs
  bool traps_ = false;  // dead index ops whose indices are always out of range
  int runs_ = 2;
  int inputs_ = 0;
  std::vector<Val> pool_;
  std::vector<Val> variables_;
  Feeds feeds_;                  // every run's values, but for
  std::vector<Feeds> bad_feeds_; // per run: the index inputs out of range in it
  std::vector<IndexSource> index_inputs_;
  std::vector<IndexUse> uses_;
  std::map<ValueId, Tensor> constants_; // the integer constants made, by value
  std::vector<Val> indexed_;            // the pool's results of index ops
  CheckSpec spec_;
};

// ---- running -------------------------------------------------------------------------------

struct Generated {
  Graph graph;
  std::vector<Feeds> feeds; // one map per run
  CheckSpec spec;
  std::map<ValueId, Val> info;         // what the generator knows of each value it made
  std::vector<IndexUse> uses;          // the nodes that can fail at run time, in graph order
  std::map<ValueId, Tensor> constants; // the integer constants (for eval_int)
  Limits limits;                       // the defaults, or small ones on purpose (limited)
  bool limited = false;
  bool over_limits = false; // a live node is over `limits`: both engines must refuse the graph
};

/// Per node: whether a step needs it (this file's own walk, so the engines' Graph::live_values
/// is checked, not trusted): the outputs, the assigns and every operand of a live node; inputs
/// and variables are live too (they are the step's interface).
std::vector<bool> live_nodes(const Graph& g) {
  std::vector<bool> live(g.size(), false);
  for (const Output& o : g.outputs())
    live[o.value] = true;
  for (ValueId v = 0; v < g.size(); ++v) {
    Op op = g.node(v).op;
    if (op == Op::assign || op == Op::input || op == Op::variable) live[v] = true;
  }
  for (ValueId v = ValueId(g.size()); v-- > 0;)
    if (live[v])
      for (ValueId o : g.node(v).operands)
        live[o] = true;
  return live;
}

/// The run-time error the semantics promise for one run, without its location: the first live
/// node (graph order) with an index out of range, and the first such position. Two counts too:
/// how many live nodes have a bad index (`failing`), and the node's id.
struct ExpectedError {
  std::string text;
  ValueId node;
  int failing = 0;
};
std::optional<ExpectedError> expected_error(const Graph& g, const Generated& gen,
                                            const std::vector<bool>& live, const Feeds& feeds) {
  std::optional<ExpectedError> first;
  int failing = 0;
  for (const IndexUse& u : gen.uses) {
    if (!live[u.node]) continue;
    auto t = eval_int(g, g.node(u.node).operands[1], feeds, gen.constants);
    if (!t)
      internal_error(fmt::format("random graphs: cannot evaluate the indices of {}", u.label));
    auto bad = first_bad(*t, u.rows);
    if (!bad) continue;
    ++failing;
    if (first) continue;
    first = ExpectedError{fmt::format("error: {}: {} {} at position {} of the {}", u.label,
                                      u.labels ? "label" : "index", bad->first,
                                      coordinates(t->shape(), bad->second),
                                      u.labels ? "labels" : "indices"),
                          u.node};
  }
  if (first) first->failing = failing;
  return first;
}

/// Small limits on purpose (about one graph in 25): the largest live op's work (or matmul's
/// multiply-adds), or one less, so both engines refuse the graph exactly when a live node is
/// over them; dead nodes may be over them and must not count.
void limit(Generated& gen, Rng& rng) {
  const Graph& g = gen.graph;
  std::vector<bool> live = live_nodes(g);
  int64_t elements = 0, macs = 0;
  for (ValueId v = 0; v < g.size(); ++v)
    if (live[v] && !g.node(v).def().declares_type) { // sources run no loop
      Work w = work_of(g, g.node(v));
      elements = std::max(elements, w.elements);
      macs = std::max(macs, w.macs);
    }
  bool below = rng.chance(0.5);
  if (macs >= 2 && rng.chance(0.4)) {
    gen.limits.max_macs = below ? macs - 1 : macs;
  } else {
    if (elements < 2) return;
    gen.limits.max_op_elements = below ? elements - 1 : elements;
  }
  gen.limited = true;
  gen.over_limits = below;
}

Generated generate(uint64_t seed) {
  Generator gen(seed);
  gen.generate();
  Generated r{gen.graph(), gen.run_feeds(), gen.spec(), {}, gen.uses(), gen.constants(), {}};
  for (const Val& v : gen.pool())
    r.info[v.v.id()] = v;
  r.spec.sync_variables = true;
  // A third of the graphs go to the code generator unsimplified (dead code, duplicates).
  r.spec.options.simplify = seed % 3 != 0;
  // One in seven on two threads (results are the same for any thread count).
  if (seed % 7 == 3) r.spec.options.threads = 2;
  Rng rng(seed ^ 0x5bd1e9955bd1e995);
  if (rng.chance(0.04)) limit(r, rng);
  return r;
}

/// A copy of `g` whose only output is `name` (assigns kept): a smaller graph showing one
/// failure, once simplify has dropped what the output does not need.
Graph only_output(const Graph& g, const std::string& name) {
  Graph r(g.name());
  for (const Node& n : g.nodes())
    r.add(n.op, n.operands, n.attrs, n.loc, n.name, n.def().declares_type ? &n.type : nullptr);
  for (const Output& o : g.outputs())
    if (o.name == name) r.add_output(o.name, o.value);
  return r;
}

/// What one graph's check saw.
struct Report {
  std::vector<std::string> failures; // empty: the engines agree, as the semantics promise
  bool compiled = false;
  bool refused = false;     // both engines refused it (limits), alike
  int error_runs = 0;       // runs in which both failed alike
  int multi_error_runs = 0; // ... with two or more live nodes out of range
  int fused_error_runs = 0; // ... where the failing node is inlined into another's loop
  int64_t arena_bytes = 0, lower_bound_bytes = 0;
  double compile_ms = 0;
  std::string log; // what each run did (printed for SJ_RANDOM_SEED)
};

std::string variables_unchanged(const Graph& g, const Feeds& before, const Variables& got,
                                const std::string& engine) {
  std::string r;
  for (ValueId v : g.nodes_of(Op::variable)) {
    const std::string& name = g.node(v).name;
    std::string p = compare_tensors(got.get(name), before.at(name), Tol::exact);
    if (!p.empty())
      r += fmt::format("\n  the {} changed variable '{}' in a failed step: {}", engine, name, p);
  }
  return r;
}

/// Compiles `g` (with `gen`'s options and limits) and runs it against the interpreter on every
/// run's feeds; see the header for what is compared.
Report check_engines(const Graph& g, const Generated& gen) {
  Report r;
  const CheckSpec& spec = gen.spec;
  std::vector<bool> live = live_nodes(g);
  std::optional<Interpreter> reference;
  std::optional<CompiledStep> step;
  std::string refused_by_interpreter, refused_by_compiler;
  try {
    reference.emplace(g, gen.limits);
  } catch (const Error& e) {
    refused_by_interpreter = e.what();
  }
  CompileOptions options = spec.options;
  options.limits = gen.limits;
  try {
    step.emplace(CompiledStep::compile(g, options));
  } catch (const Error& e) {
    refused_by_compiler = e.what();
  } catch (const std::exception& e) {
    r.failures.push_back(fmt::format("compiling threw: {}", e.what()));
    return r;
  }
  if (step) {
    r.compiled = true;
    r.arena_bytes = step->arena_bytes();
    r.lower_bound_bytes = step->arena_lower_bound_bytes();
    r.compile_ms = step->compile_ms();
  }
  if (!refused_by_interpreter.empty() || !refused_by_compiler.empty()) {
    if (refused_by_interpreter != refused_by_compiler)
      r.failures.push_back(
          fmt::format("the engines refuse the graph differently:\n  interpreter: "
                      "{}\n  compiled:    {}",
                      refused_by_interpreter.empty() ? "(accepts it)" : refused_by_interpreter,
                      refused_by_compiler.empty() ? "(accepts it)" : refused_by_compiler));
    else if (!gen.over_limits)
      r.failures.push_back("both engines refuse a graph whose live nodes are within the limits: " +
                           refused_by_compiler);
    r.refused = true;
    r.log += "refused: " + refused_by_compiler + "\n";
    return r;
  }
  if (gen.over_limits)
    r.failures.push_back("both engines accept a graph with a live node over the limits");
  std::optional<FusionPlan> plan; // of the graph as compiled, by node name (for the counts)
  std::optional<Graph> compiled_graph;
  for (size_t run = 0; run < gen.feeds.size(); ++run) {
    const Feeds& feeds = gen.feeds[run];
    if (spec.sync_variables)
      for (ValueId v : g.nodes_of(Op::variable))
        step->set_variable(g.node(v).name, reference->variable(g.node(v).name));
    Feeds before;
    for (ValueId v : g.nodes_of(Op::variable))
      before[g.node(v).name] = reference->variable(g.node(v).name);
    std::optional<Feeds> want;
    std::string want_error, got_error;
    const Feeds* got = nullptr;
    try {
      want = reference->run(feeds);
    } catch (const Error& e) {
      want_error = e.what();
    } catch (const std::exception& e) {
      r.failures.push_back(fmt::format("run {}: the interpreter threw: {}", run, e.what()));
      return r;
    }
    try {
      got = &step->run(feeds);
    } catch (const Error& e) {
      got_error = e.what();
    } catch (const std::exception& e) {
      r.failures.push_back(fmt::format("run {}: the compiled step threw: {}", run, e.what()));
      return r;
    }
    std::optional<ExpectedError> expected = expected_error(g, gen, live, feeds);
    r.log +=
        fmt::format("run {}: {}\n", run, want_error.empty() ? "ok" : "interpreter: " + want_error);
    if (want_error != got_error)
      r.failures.push_back(
          fmt::format("run {}: the engines fail differently:\n  interpreter: {}\n  compiled:    {}",
                      run, want_error.empty() ? "(no error)" : want_error,
                      got_error.empty() ? "(no error)" : got_error));
    if (expected) {
      bool as_promised = want_error.find(expected->text) != std::string::npos &&
                         want_error.ends_with("; no variable was updated");
      if (!as_promised)
        r.failures.push_back(fmt::format("run {}: the interpreter's error is not the one of the "
                                         "first live node out of range:\n  expected: {} ...; no "
                                         "variable was updated\n  got:      {}",
                                         run, expected->text,
                                         want_error.empty() ? "(no error)" : want_error));
    } else if (!want_error.empty()) {
      r.failures.push_back(fmt::format(
          "run {}: the interpreter fails where no live node has an index out of range: {}", run,
          want_error));
    }
    if (!want_error.empty() || !got_error.empty()) {
      // A failed step changes no variable, in either engine.
      std::string changed;
      if (!want_error.empty())
        changed += variables_unchanged(g, before, reference->variables(), "interpreter");
      if (!got_error.empty())
        changed += variables_unchanged(g, before, step->variables(), "compiled step");
      if (!changed.empty()) r.failures.push_back(fmt::format("run {}:{}", run, changed));
      if (want_error == got_error && expected) {
        ++r.error_runs;
        r.multi_error_runs += expected->failing >= 2;
        if (!plan) {
          compiled_graph = spec.options.simplify ? simplify(g) : g;
          plan = fuse(*compiled_graph);
        }
        auto id = compiled_graph->find(g.node(expected->node).name);
        r.fused_error_runs += id && plan->inlined[*id];
      }
      continue;
    }
    for (const auto& [name, value] : *want) {
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
      std::string problem = compare_tensors(step->variable(name), reference->variable(name),
                                            spec.variable_tol, name, 1.0, spec.variable_precision);
      if (!problem.empty())
        r.failures.push_back(fmt::format("after run {}: variable '{}' ({}): {}", run, name,
                                         g.type(v).str(), problem));
    }
  }
  return r;
}

// ---- known bugs: how to recognize their graphs ----------------------------------------------

struct Summary {
  int graphs = 0, failed = 0;
  int with_empty = 0, with_dead = 0, with_dead_index_ops = 0, with_errors = 0, limited = 0,
      refused = 0;
  int simplified = 0;
  int error_runs = 0, multi_error_runs = 0, fused_error_runs = 0;
  double ratio_sum = 0;
  int ratio_count = 0;
  double worst_ratio = 0;
  uint64_t worst_seed = 0;
  double compile_ms = 0;
  std::map<std::string, int> empty_ops; // live nodes with an empty operand or result, by op
};

Summary& summary() {
  static Summary s;
  return s;
}

/// Counts what a graph has: empty values, dead nodes (and dead nodes that can fail).
void count_graph(const Generated& gen, Summary& s) {
  const Graph& g = gen.graph;
  std::vector<bool> live = live_nodes(g);
  bool empty = false, dead = false, dead_index = false;
  for (ValueId v = 0; v < g.size(); ++v) {
    empty = empty || g.type(v).num_elements() == 0;
    if (!live[v] && !g.node(v).def().declares_type) {
      dead = true;
      dead_index = dead_index || g.node(v).def().can_fail();
    }
  }
  // Which ops see empty values (as operand or result), for the report.
  for (ValueId v = 0; v < g.size(); ++v) {
    const Node& n = g.node(v);
    if (!live[v] || n.def().declares_type) continue;
    bool seen = n.type.num_elements() == 0;
    for (ValueId o : n.operands)
      seen = seen || g.type(o).num_elements() == 0;
    if (seen) ++s.empty_ops[std::string(n.def().name)];
  }
  s.with_empty += empty;
  s.with_dead += dead;
  s.with_dead_index_ops += dead_index;
  s.limited += gen.limited;
  s.simplified += gen.spec.options.simplify;
}

/// With SJ_RANDOM_DUMP=<dir>: the graph as text and every run's feeds as .npy files, for
/// `stepjit eval`.
void dump(uint64_t seed, const Generated& gen) {
  const char* dir = std::getenv("SJ_RANDOM_DUMP");
  if (!dir) return;
  std::filesystem::create_directories(dir);
  std::string base = fmt::format("{}/random_{}", dir, seed);
  std::ofstream(base + ".sj") << print(gen.graph);
  for (size_t run = 0; run < gen.feeds.size(); ++run)
    for (const auto& [name, t] : gen.feeds[run])
      write_npy(fmt::format("{}_run{}_{}.npy", base, run, name), t);
}

void check_seed(uint64_t seed, bool verbose) {
  Generated gen = generate(seed);
  Summary& s = summary();
  count_graph(gen, s);
  Report r = check_engines(gen.graph, gen);
  ++s.graphs;
  s.compile_ms += r.compile_ms;
  s.refused += r.refused;
  s.with_errors += r.error_runs > 0;
  s.error_runs += r.error_runs;
  s.multi_error_runs += r.multi_error_runs;
  s.fused_error_runs += r.fused_error_runs;
  if (verbose) {
    std::vector<StageText> stages;
    CompileOptions o = gen.spec.options;
    o.stages = &stages;
    o.limits = gen.limits;
    try {
      CompiledStep::compile(gen.graph, o);
    } catch (const std::exception& e) {
      std::printf("compiling: %s\n", e.what());
    }
    for (const StageText& st : stages)
      if (st.stage != "asm" && st.stage != "llvm" && st.stage != "llvm-opt")
        std::printf("---- %s\n%s\n", st.file.c_str(), st.text.c_str());
    std::printf("---- runs (simplify %s)\n%s", gen.spec.options.simplify ? "on" : "off",
                r.log.c_str());
    dump(seed, gen);
  }
  if (r.compiled) {
    EXPECT_GE(r.arena_bytes, r.lower_bound_bytes) << "seed " << seed;
    if (r.lower_bound_bytes > 0) {
      double ratio = double(r.arena_bytes) / double(r.lower_bound_bytes);
      s.ratio_sum += ratio;
      ++s.ratio_count;
      if (ratio > s.worst_ratio) {
        s.worst_ratio = ratio;
        s.worst_seed = seed;
      }
    }
  }
  if (r.failures.empty()) return;
  ++s.failed;
  std::string report;
  for (const std::string& f : r.failures)
    report += "  " + f + "\n";
  // Each failing output alone, simplified: usually a much smaller graph.
  for (const Output& o : gen.graph.outputs()) {
    bool failed = false;
    for (const std::string& f : r.failures)
      failed |= f.find("output '" + o.name + "'") != std::string::npos;
    if (!failed) continue;
    Graph alone = only_output(gen.graph, o.name);
    Report ra = check_engines(alone, gen);
    report += fmt::format("output {} alone {}; simplified:\n{}", o.name,
                          ra.failures.empty() ? "passes" : "fails too", print(simplify(alone)));
  }
  dump(seed, gen);
  ADD_FAILURE() << "random graph seed " << seed << " (simplify "
                << (gen.spec.options.simplify ? "on" : "off") << ") differs from the interpreter:\n"
                << report << "the graph:\n"
                << print(gen.graph) << "(rerun alone with SJ_RANDOM_SEED=" << seed << ")";
}

TEST(RandomGraphs, MatchTheInterpreter) {
  if (const char* one = std::getenv("SJ_RANDOM_SEED")) {
    check_seed(std::strtoull(one, nullptr, 10), true);
    return;
  }
  auto start = std::chrono::steady_clock::now();
  for (uint64_t seed = 1; seed <= uint64_t(graph_count()); ++seed) {
    SCOPED_TRACE(fmt::format("seed {}", seed));
    check_seed(seed, false);
  }
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const Summary& s = summary();
  std::printf("[ random   ] %d graphs, %d differ; %.1f s (compiling %.1f s); %d simplified\n",
              s.graphs, s.failed, seconds, s.compile_ms / 1000, s.simplified);
  std::printf("[ random   ] %d with empty values, %d with dead nodes (%d with dead index ops), %d "
              "with run-time errors (%d runs failed alike, %d of them with two or more live "
              "nodes out of range, %d in a node fused into another's loop), %d with small "
              "limits (%d refused by both)\n",
              s.with_empty, s.with_dead, s.with_dead_index_ops, s.with_errors, s.error_runs,
              s.multi_error_runs, s.fused_error_runs, s.limited, s.refused);
  std::string ops;
  for (const auto& [op, n] : s.empty_ops)
    ops += fmt::format(" {} {}", op, n);
  std::printf("[ random   ] live ops with an empty operand or result:%s\n", ops.c_str());
  if (s.ratio_count)
    std::printf("[ arena    ] compiled steps: arena / lower bound %.3f on average, worst %.2f "
                "(seed %llu)\n",
                s.ratio_sum / s.ratio_count, s.worst_ratio,
                static_cast<unsigned long long>(s.worst_seed));
  RecordProperty("graphs", s.graphs);
  RecordProperty("error_runs", s.error_runs);
}

// The memory plan of every random graph, as CompiledStep computes it (simplify, fuse,
// plan_memory; no code generation, so this is quick): the arena never goes below the lower
// bound (the most bytes live at once), and how far above it the first-fit plan lands, on
// average, is reported (not checked: the 10% target is a goal, not a guarantee).
TEST(RandomGraphs, ArenaIsAtLeastTheLowerBoundAndReportsTheRatio) {
  double ratio_sum = 0, worst = 0;
  int count = 0, within = 0;
  uint64_t worst_seed = 0;
  for (uint64_t seed = 1; seed <= uint64_t(graph_count()); ++seed) {
    Generated gen = generate(seed);
    Graph g = gen.spec.options.simplify ? simplify(gen.graph) : gen.graph;
    FusionPlan fusion = fuse(g);
    MemoryPlan memory = plan_memory(g, fusion);
    EXPECT_GE(memory.arena_bytes, memory.lower_bound_bytes) << "seed " << seed;
    if (memory.lower_bound_bytes == 0) continue;
    double ratio = double(memory.arena_bytes) / double(memory.lower_bound_bytes);
    ratio_sum += ratio;
    ++count;
    within += ratio <= 1.1;
    if (ratio > worst) {
      worst = ratio;
      worst_seed = seed;
    }
  }
  ASSERT_GT(count, 0);
  double mean = ratio_sum / count;
  std::printf("[ arena    ] %d graphs with an arena: arena / lower bound = %.3f on average "
              "(%s the 10%% target), %d of them within 10%%, worst %.2f (seed %llu)\n",
              count, mean, mean <= 1.1 ? "within" : "NOT within", within, worst,
              static_cast<unsigned long long>(worst_seed));
  RecordProperty("mean_arena_ratio", fmt::format("{:.3f}", mean));
}

// The largest error seen per tolerance class, in units of the tolerance (the headroom left).
class ReportWorstErrors : public testing::Environment {
public:
  void TearDown() override {
    for (const auto& [what, worst] : worst_errors())
      std::printf("[ tolerance ] %-18s worst error %.3g of the tolerance (%s)\n", what.c_str(),
                  worst.first, worst.second.c_str());
  }
};
const auto* const kReport = testing::AddGlobalTestEnvironment(new ReportWorstErrors);

// ---- regression tests: bugs random graphs found, fixed ----------------------------------------

// passes/plan_memory.cpp with loop groups (passes/fuse.cpp): a loop-group member that nobody
// reads (dead code: only graphs compiled without simplify had it) got the live range [group
// start, group start], so a value computed between the group's members could be given its
// buffer, and the group's loop then wrote the dead member over it. Found by random graphs
// (seeds 93, 111, 126, 201, 246 of 300, all unsimplified). Dead code is now neither lowered nor
// planned, and loop-group members live over their whole group.
TEST(RandomGraphsMinimized, DeadLoopGroupMember) {
  Graph g("dead_loop_member");
  Value x = input(g, "x", {f64, {4}});
  Value table = input(g, "table", {f64, {7, 2}});
  Value ids = input(g, "ids", {i32, {3}});
  Value a = x + 1.0;               // opens a loop group over f64[4]
  Value dead = a * 3.0;            // a member nobody reads
  Value rows = gather(table, ids); // reads no member: runs before the loop
  Value b = a * x;                 // a member
  output("rows", rows);
  output("b", b);
  Rng rng(1);
  std::map<std::string, Tensor> feeds = {{"x", sample({f64, {4}}, Dist{}, rng)},
                                         {"table", sample({f64, {7, 2}}, Dist{}, rng)},
                                         {"ids", sample({i32, {3}}, Dist::ints(0, 6), rng)}};
  (void)dead;
  CheckSpec spec{.default_tol = Tol::exact};
  for (bool simplify : {true, false}) {
    spec.options.simplify = simplify;
    for (const std::string& f : check_against_interpreter(g, feeds, spec).failures)
      ADD_FAILURE() << "simplify " << simplify << ": " << f << "\n" << print(g);
  }
}

// codegen/lower_to_llvm.cpp commit() (the same bug as assign's swap_two_variables case in
// ops_compiled_test.cpp): the assigns were committed by memmoves one after the other, so an
// assign whose value is a variable an earlier assign already overwrote stored the new value,
// not the one from before the step. Simplify made this reachable from graphs that do not swap
// raw variables: `b * 1` and `a - 0` simplify to the variables themselves.
TEST(RandomGraphsMinimized, AssignSwapThroughSimplifiedIdentities) {
  Graph g("swap");
  Value a = variable(g, "a", {f32, {3}}, Init::ones());
  Value b = variable(g, "b", {f32, {3}}, Init::constant(2));
  assign(a, b * 1.0);
  assign(b, a - 0.0);
  CheckSpec spec{.runs = 2};
  for (bool simplified : {false, true}) {
    spec.options.simplify = simplified;
    for (const std::string& f : check_against_interpreter(g, {}, spec).failures)
      ADD_FAILURE() << "simplify " << simplified << ": " << f << "\n" << print(simplify(g));
  }
}

// passes/fuse.cpp (loop groups): code between two loop-group members "runs before the group's
// loop" when it reads no member, but reading the result of an assign of a member (an alias of
// the member's buffer) was not seen as reading the member: the reduction below ran before the
// loop had computed `next`, and summed stale arena bytes. With or without simplify. Found
// while probing loop groups.
TEST(RandomGraphsMinimized, AssignResultReadBetweenLoopGroupMembers) {
  Graph g("assign_result");
  Value w = variable(g, "w", {f32, {4}}, Init::uniform(-1, 1, 3));
  Value next = w * 2.0;                      // opens a loop group over f32[4]
  Value total = reduce_sum(assign(w, next)); // reads the new value through the assign
  Value other = next + 1.0;                  // a member: the loop runs here
  output("total", total);
  output("other", other);
  CheckSpec spec{.default_tol = Tol::accumulate, .runs = 2};
  for (bool simplify : {false, true}) {
    spec.options.simplify = simplify;
    for (const std::string& f : check_against_interpreter(g, {}, spec).failures)
      ADD_FAILURE() << "simplify " << simplify << ": " << f << "\n" << print(g);
  }
}

// ---- known bugs: minimized from random graphs, skipped unless SJ_RUN_KNOWN_BUGS=1 ------------

// The error each engine gives for one run of `g` ("" for none).
std::string error_of_run(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// Was bug R1 (passes/fuse.cpp): the index checks of the gathers fused into a loop group's
// members run before the group's loop, but a gather's indices could be an earlier member of
// the same group (here `idx`, the cast: the group was `cast %idx, neg %y`, over one element).
// The check then read the indices' arena buffer before the loop wrote it: stale bytes, so a
// bad index was missed (the gather read row 0 and the step succeeded: z = -t[0]), or a good
// one reported with a garbage value. Found by random graphs (seeds 1263, 1478 and 4043 of
// 5000: embedding updates with ids cast to i64, one id). Now such a value starts a new group.
TEST(RandomGraphsMinimized, GatherIndicesComputedInItsOwnLoopGroupAreCheckedAfterTheLoop) {
  Graph g("check_before_loop");
  Value t = input(g, "t", {f32, {8}});
  Value i = input(g, "i", {i32, {1}});
  Value idx = cast(i, i64);      // a loop-group member
  Value y = neg(gather(t, idx)); // a member, with the gather fused into it
  output("n", reduce_sum(idx));  // (so idx is stored)
  output("z", reduce_sum(y));
  std::vector<float> table = {0, 1, 2, 3, 4, 5, 6, 7};
  Feeds bad = {{"t", Tensor::from<float>({8}, table)}, {"i", Tensor::from<int32_t>({1}, {9})}};
  Feeds good = {{"t", Tensor::from<float>({8}, table)}, {"i", Tensor::from<int32_t>({1}, {3})}};
  std::string interpreted = error_of_run([&] { Interpreter(g).run(bad); });
  EXPECT_NE(interpreted.find("gather: index 9 at position [0] of the indices is out of range "
                             "for a table of 8 rows"),
            std::string::npos)
      << interpreted;
  // Right with a good index (the loop computes the gather from the member's register).
  CheckSpec spec{.default_tol = Tol::exact};
  for (const std::string& f : check_against_interpreter(g, good, spec).failures)
    ADD_FAILURE() << f;
  // (Simplified: the one-element sums become reshapes and adds, and the group forms; random
  // seed 1263 has the same group unsimplified.)
  auto step = CompiledStep::compile(g, {.use_cache = false});
  EXPECT_EQ(error_of_run([&] { step.run(bad); }), interpreted);
}

} // namespace
} // namespace sj::jit_test

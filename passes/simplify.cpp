// Simplification: rebuilds the graph node by node through Graph::add (so every node is checked
// again), rewriting as it goes, one sweep after another until a sweep changes nothing.
//
// One sweep over the graph `in`:
//   1. liveness: outputs, assigns (effects), inputs and variables are roots; what they do not
//      reach is dropped ("dce");
//   2. every live node, in order, becomes a candidate (op, operands mapped into the new graph,
//      attributes) and goes through emit(): fold it if every operand is a constant, else try the
//      algebraic rules (each either names an existing value or emits a simpler candidate, which
//      goes through emit() again), else find an identical node already emitted ("cse"), else
//      add it;
//   3. names move to the replacement when it is unnamed; the outputs are re-pointed.
// Nodes keep their relative order, so inputs and variables keep theirs; values a rewrite makes
// dead in this sweep are dropped by the next one.
#include "passes/simplify.h"

#include <cmath>
#include <functional>
#include <optional>
#include <string_view>
#include <unordered_map>
#include <utility>

namespace sj {

namespace {

/// Folding materializes the result as a constant: only small ones (a big splat stays an op).
constexpr int64_t kMaxFoldedElements = 1024;
/// Every rule makes the graph strictly simpler, so the fixed point comes after a few sweeps;
/// needing more than this means two rules undo each other: a bug.
constexpr int kMaxSweeps = 1000;

/// A node to be: what emit() simplifies before adding it to the new graph.
struct Candidate {
  Op op;
  std::vector<ValueId> operands;
  Attrs attrs;
};

/// What folding kernels see as the interpreter state: every operand is a constant, so no kernel
/// of a foldable op ever asks for a feed, a variable or an assign.
class NoState final : public EvalState {
public:
  const Tensor& feed(const Node&) override { internal_error("simplify: folding read a feed"); }
  const Tensor& variable(const Node&) override {
    internal_error("simplify: folding read a variable");
  }
  void assign(const Node&, const Tensor&) override {
    internal_error("simplify: folding assigned a variable");
  }
};

/// The elementwise ops that broadcast their operands against each other (NumPy rules).
bool broadcasts_operands(Op op) {
  switch (op) {
  case Op::add:
  case Op::sub:
  case Op::mul:
  case Op::div:
  case Op::maximum:
  case Op::minimum:
  case Op::pow:
  case Op::greater:
  case Op::greater_equal:
  case Op::less:
  case Op::equal:
  case Op::select:
    return true;
  default:
    return false;
  }
}

/// NumPy broadcasting of two shapes, or nullopt when they clash.
std::optional<Shape> broadcast(const Shape& a, const Shape& b) {
  size_t rank = std::max(a.size(), b.size());
  Shape out(rank);
  for (size_t i = 0; i < rank; ++i) {
    int64_t da = i < rank - a.size() ? 1 : a[i - (rank - a.size())];
    int64_t db = i < rank - b.size() ? 1 : b[i - (rank - b.size())];
    if (da == db || db == 1)
      out[i] = da;
    else if (da == 1)
      out[i] = db;
    else
      return std::nullopt;
  }
  return out;
}

bool is_identity(const std::vector<int64_t>& perm) {
  for (size_t i = 0; i < perm.size(); ++i)
    if (perm[i] != int64_t(i)) return false;
  return true;
}

/// A perm that swaps the last two dimensions and keeps the others: what a matmul flag does.
bool swaps_last_two(const std::vector<int64_t>& perm) {
  size_t r = perm.size();
  if (r < 2) return false;
  for (size_t i = 0; i + 2 < r; ++i)
    if (perm[i] != int64_t(i)) return false;
  return perm[r - 2] == int64_t(r - 1) && perm[r - 1] == int64_t(r - 2);
}

/// True when every element of `t` satisfies `pred` (given the element as a double: exact for
/// every dtype's 0 and 1, and it keeps the sign of a floating-point zero).
bool all_elements(const Tensor& t, const std::function<bool(double)>& pred) {
  for (int64_t i = 0; i < t.num_elements(); ++i)
    if (!pred(t.as_double(i))) return false;
  return true;
}

class Sweep {
public:
  Sweep(const Graph& in, SimplifyStats& stats) : in_(in), out_(in.name()), stats_(stats) {}

  Graph run();

private:
  ValueId emit(Candidate c, const Location& loc, bool counts_cse = false);
  TensorType infer(const Candidate& c, const Location& loc) const;
  std::optional<ValueId> fold(const Candidate& c, const TensorType& type, const Location& loc);
  std::optional<ValueId> rewrite(const Candidate& c, const TensorType& type, const Location& loc);
  ValueId add_unique(const Candidate& c, const TensorType& type, const Location& loc,
                     bool counts_cse);

  // The rules; each returns the value that replaces the candidate, or nullopt if it does not
  // apply.
  std::optional<ValueId> mul_by_one(const Candidate& c, const TensorType& type);
  std::optional<ValueId> add_zero(const Candidate& c, const TensorType& type);
  std::optional<ValueId> transpose_of_transpose(const Candidate& c, const Location& loc);
  std::optional<ValueId> reshape_chain(const Candidate& c, const TensorType& type,
                                       const Location& loc);
  std::optional<ValueId> broadcast_of_scalar(const Candidate& c, const TensorType& type,
                                             const Location& loc);
  std::optional<ValueId> sum_over_size_one(const Candidate& c, const TensorType& type,
                                           const Location& loc);
  std::optional<ValueId> matmul_transpose_flag(const Candidate& c, const Location& loc);

  const Tensor* constant_value(ValueId v) const {
    const Node& n = out_.node(v);
    return n.op == Op::constant ? &n.attrs.tensor("value") : nullptr;
  }
  void count(const char* rule) { ++stats_[rule]; }

  const Graph& in_;
  Graph out_;
  SimplifyStats& stats_;
  // Nodes of out_ by op and operands (and, for constants, type and a hash of the value); equal
  // attributes are then compared exactly.
  std::unordered_map<std::string, std::vector<ValueId>> by_key_;
};

Graph Sweep::run() {
  // Liveness: what the outputs and the effects need; inputs and variables are always kept (feeds
  // and checkpoints refer to them by name).
  std::vector<bool> live = in_.live_values();

  std::vector<ValueId> map(in_.size(), ~ValueId{0});
  for (ValueId v = 0; v < in_.size(); ++v) {
    const Node& node = in_.node(v);
    if (!live[v]) {
      count("dce");
      continue;
    }
    std::vector<ValueId> operands;
    for (ValueId o : node.operands) {
      SJ_ASSERT(live[o] && map[o] != ~ValueId{0});
      operands.push_back(map[o]);
    }
    ValueId r;
    if (node.op == Op::input || node.op == Op::variable || node.def().has_effect) {
      // Never merged or rewritten: each is its own state, feed or effect.
      r = out_.add(node.op, std::move(operands), node.attrs, node.loc, node.name,
                   node.def().declares_type ? &node.type : nullptr);
    } else {
      r = emit({node.op, std::move(operands), node.attrs}, node.loc, /*counts_cse=*/true);
      // A replacement takes the name of the value it replaces if it has none of its own.
      if (!node.name.empty() && out_.node(r).name.empty() && !out_.find(node.name))
        out_.set_name(r, node.name, node.loc);
    }
    if (out_.type(r) != node.type)
      internal_error("simplify: " + node_label(node) + " of type " + node.type.str() +
                     " was replaced by a value of type " + out_.type(r).str());
    map[v] = r;
  }
  for (const Output& o : in_.outputs())
    out_.add_output(o.name, map[o.value]);
  return std::move(out_);
}

TensorType Sweep::infer(const Candidate& c, const Location& loc) const {
  std::vector<TensorType> types;
  for (ValueId v : c.operands)
    types.push_back(out_.type(v));
  const TensorType* declared = c.op == Op::constant ? &c.attrs.tensor("value").type() : nullptr;
  OpCall call{op_def(c.op), out_, c.operands, types, c.attrs, declared, loc};
  return op_def(c.op).infer(call);
}

// `counts_cse`: whether merging the candidate into an existing node removes a node of the input
// graph (true for the nodes of the input; nodes a rule makes up are counted by the rule).
ValueId Sweep::emit(Candidate c, const Location& loc, bool counts_cse) {
  c.attrs = normalize_attrs(op_def(c.op), c.attrs, loc);
  TensorType type = infer(c, loc);
  if (c.op != Op::constant) {
    if (auto v = fold(c, type, loc)) return *v;
    if (auto v = rewrite(c, type, loc)) return *v;
  }
  return add_unique(c, type, loc, counts_cse);
}

ValueId Sweep::add_unique(const Candidate& c, const TensorType& type, const Location& loc,
                          bool counts_cse) {
  std::string key(op_name(c.op));
  for (ValueId v : c.operands)
    key += " " + std::to_string(v);
  if (c.op == Op::constant) {
    auto bytes = c.attrs.tensor("value").bytes();
    key += " " + type.str() + " " +
           std::to_string(std::hash<std::string_view>{}(
               std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size())));
  }
  std::vector<ValueId>& same_key = by_key_[key];
  // Attrs compare exactly: constants by type and bits (so 0.0 and -0.0 stay apart).
  for (ValueId v : same_key)
    if (out_.node(v).attrs == c.attrs) {
      if (counts_cse) count("cse");
      return v;
    }
  ValueId id = out_.add(c.op, c.operands, c.attrs, loc, {}, c.op == Op::constant ? &type : nullptr);
  same_key.push_back(id);
  return id;
}

// A node whose operands are all constants becomes a constant, computed by the op's interpreter
// kernel (so bit for bit what the interpreter would compute). Not folded: results above
// kMaxFoldedElements elements; a broadcast_to that grows its operand (a materialized splat is no
// simpler than the broadcast, and a broadcast feeding an elementwise op goes away through
// broadcast_of_scalar instead); and anything whose kernel throws sj::Error (an index out of
// range in gather or softmax_cross_entropy stays the run-time error it is).
std::optional<ValueId> Sweep::fold(const Candidate& c, const TensorType& type,
                                   const Location& loc) {
  const OpDef& def = op_def(c.op);
  if (c.operands.empty() || def.has_effect || !def.eval) return std::nullopt;
  if (type.num_elements() > kMaxFoldedElements) return std::nullopt;
  if (c.op == Op::broadcast_to && type.num_elements() != out_.type(c.operands[0]).num_elements())
    return std::nullopt;
  std::vector<const Tensor*> args;
  for (ValueId v : c.operands) {
    const Tensor* value = constant_value(v);
    if (!value) return std::nullopt;
    args.push_back(value);
  }
  Node node{c.op, c.operands, c.attrs, type, {}, loc};
  NoState state;
  Tensor value;
  try {
    value = def.eval(EvalCall{out_, node, args, state});
  } catch (const Error&) {
    return std::nullopt;
  }
  if (value.type() != type)
    internal_error("simplify: the " + std::string(def.name) + " kernel returned " +
                   value.type().str() + " for a node of type " + type.str());
  count("fold_constants");
  return emit({Op::constant, {}, {{"value", std::move(value)}}}, loc);
}

std::optional<ValueId> Sweep::rewrite(const Candidate& c, const TensorType& type,
                                      const Location& loc) {
  std::optional<ValueId> r;
  switch (c.op) {
  case Op::mul:
    r = mul_by_one(c, type);
    break;
  case Op::add:
  case Op::sub:
    r = add_zero(c, type);
    break;
  case Op::transpose:
    r = transpose_of_transpose(c, loc);
    break;
  case Op::reshape:
    r = reshape_chain(c, type, loc);
    break;
  case Op::broadcast_to:
  case Op::div:
  case Op::maximum:
  case Op::minimum:
  case Op::pow:
  case Op::greater:
  case Op::greater_equal:
  case Op::less:
  case Op::equal:
  case Op::select:
    break; // broadcast_of_scalar below
  case Op::reduce_sum:
  case Op::reduce_mean:
  case Op::reduce_max:
    r = sum_over_size_one(c, type, loc);
    break;
  case Op::matmul:
    r = matmul_transpose_flag(c, loc);
    break;
  default:
    break;
  }
  if (!r && (c.op == Op::broadcast_to || broadcasts_operands(c.op)))
    r = broadcast_of_scalar(c, type, loc);
  return r;
}

// x * 1 and 1 * x -> x, where every element of the constant is 1 and the product has x's type
// (a 1 that broadcasts x to a bigger shape is not an identity). Exact: x * 1 == x for every x.
std::optional<ValueId> Sweep::mul_by_one(const Candidate& c, const TensorType& type) {
  for (int i = 0; i < 2; ++i) {
    ValueId x = c.operands[1 - i];
    const Tensor* one = constant_value(c.operands[i]);
    if (one && out_.type(x) == type && all_elements(*one, [](double e) { return e == 1; })) {
      count("mul_by_one");
      return x;
    }
  }
  return std::nullopt;
}

// x + 0, 0 + x and x - 0 -> x, where the sum has x's type. For integers every such form is
// exact. For floats, IEEE gives -0 + +0 = +0, so x + (+0) is not x when x = -0; only the exact
// forms are removed: x + (-0), (-0) + x and x - (+0). (XLA accepts x + 0 -> x and its -0 change;
// we do not: simplify never changes a bit of a result.)
std::optional<ValueId> Sweep::add_zero(const Candidate& c, const TensorType& type) {
  bool floating = is_float(type.dtype);
  auto is_zero = [&](ValueId v, bool negative) {
    const Tensor* t = constant_value(v);
    return t && all_elements(*t, [&](double e) {
             return e == 0 && (!floating || std::signbit(e) == negative);
           });
  };
  for (int i = 0; i < 2; ++i) {
    if (c.op == Op::sub && i == 0) continue; // 0 - x is -x, not x
    ValueId x = c.operands[1 - i];
    // Which zero leaves every x unchanged: -0 when added, +0 when subtracted.
    if (out_.type(x) == type && is_zero(c.operands[i], /*negative=*/c.op == Op::add)) {
      count("add_zero");
      return x;
    }
  }
  return std::nullopt;
}

// transpose(x) with the identity perm -> x; transpose(transpose(y, p1), p2) -> transpose(y, q)
// with q[i] = p1[p2[i]] (result dimension i is y's dimension p1[p2[i]]), or y if q is the
// identity.
std::optional<ValueId> Sweep::transpose_of_transpose(const Candidate& c, const Location& loc) {
  const auto& perm = c.attrs.ints("perm");
  ValueId x = c.operands[0];
  if (is_identity(perm)) {
    count("transpose_of_transpose");
    return x;
  }
  const Node& inner = out_.node(x);
  if (inner.op != Op::transpose) return std::nullopt;
  const auto& p1 = inner.attrs.ints("perm");
  std::vector<int64_t> q;
  for (int64_t p : perm)
    q.push_back(p1[p]);
  ValueId y = inner.operands[0];
  count("transpose_of_transpose");
  if (is_identity(q)) return y;
  return emit({Op::transpose, {y}, {{"perm", q}}}, loc);
}

// reshape(x) to x's own shape -> x; reshape(reshape(y)) -> one reshape of y (row-major order is
// the same whatever the intermediate shape), or y if that is y's shape.
std::optional<ValueId> Sweep::reshape_chain(const Candidate& c, const TensorType& type,
                                            const Location& loc) {
  ValueId x = c.operands[0];
  if (out_.type(x).shape == type.shape) {
    count("reshape_chain");
    return x;
  }
  const Node& inner = out_.node(x);
  if (inner.op != Op::reshape) return std::nullopt;
  ValueId y = inner.operands[0];
  count("reshape_chain");
  if (out_.type(y).shape == type.shape) return y;
  return emit({Op::reshape, {y}, {{"shape", type.shape}}}, loc);
}

// broadcast_to(x) to x's own shape -> x. An elementwise op's operand broadcast_to(y), where y
// broadcasts to the result implicitly anyway -> y: the kernel reads the same element for every
// result element either way, so the result is exact.
std::optional<ValueId> Sweep::broadcast_of_scalar(const Candidate& c, const TensorType& type,
                                                  const Location& loc) {
  if (c.op == Op::broadcast_to) {
    if (out_.type(c.operands[0]).shape != type.shape) return std::nullopt;
    count("broadcast_of_scalar");
    return c.operands[0];
  }
  auto result_shape = [&](const std::vector<ValueId>& operands) -> std::optional<Shape> {
    Shape s;
    for (ValueId v : operands) {
      auto b = broadcast(s, out_.type(v).shape);
      if (!b) return std::nullopt;
      s = *b;
    }
    return s;
  };
  std::vector<ValueId> operands = c.operands;
  bool changed = false;
  for (size_t i = 0; i < operands.size(); ++i) {
    const Node& n = out_.node(operands[i]);
    if (n.op != Op::broadcast_to) continue;
    std::vector<ValueId> trial = operands;
    trial[i] = n.operands[0];
    if (result_shape(trial) == type.shape) {
      operands = std::move(trial);
      changed = true;
    }
  }
  if (!changed) return std::nullopt;
  count("broadcast_of_scalar");
  return emit({c.op, std::move(operands), c.attrs}, loc);
}

// A reduction over axes that all have size 1 reduces one element per result element: reshape
// (nothing with keepdims, or when the shape does not change). reduce_max of one element is the
// element, as is an integer sum. A floating-point sum or mean of one element is 0 + x in the
// interpreter (its compensated sum starts at +0), which is x except that -0 becomes +0; to keep
// every bit, the reduction becomes add(reshape(x), 0.0), an elementwise op that computes exactly
// that (x + +0 is x except -0 -> +0).
std::optional<ValueId> Sweep::sum_over_size_one(const Candidate& c, const TensorType& type,
                                                const Location& loc) {
  ValueId x = c.operands[0];
  const Shape shape = out_.type(x).shape; // a copy: emit() may move the nodes
  const auto rank = static_cast<int64_t>(shape.size());
  for (int64_t a : c.attrs.ints("axes"))
    if (shape[a < 0 ? a + rank : a] != 1) return std::nullopt;
  count("sum_over_size_one");
  ValueId r = shape == type.shape ? x : emit({Op::reshape, {x}, {{"shape", type.shape}}}, loc);
  if (is_float(type.dtype) && c.op != Op::reduce_max) {
    ValueId zero = emit({Op::constant, {}, {{"value", Tensor(TensorType{type.dtype, {}})}}}, loc);
    r = emit({Op::add, {r, zero}, {}}, loc);
  }
  return r;
}

// matmul(transpose(x), b) where the transpose swaps the last two dimensions (and keeps the batch
// dimensions) -> matmul(x, b) with transpose_a flipped; the same for b. The kernel reads the
// same matrix either way, so the product is exact.
std::optional<ValueId> Sweep::matmul_transpose_flag(const Candidate& c, const Location& loc) {
  Candidate next = c;
  bool changed = false;
  const char* flags[] = {"transpose_a", "transpose_b"};
  for (int i = 0; i < 2; ++i) {
    const Node& n = out_.node(c.operands[i]);
    if (n.op != Op::transpose || !swaps_last_two(n.attrs.ints("perm"))) continue;
    next.operands[i] = n.operands[0];
    next.attrs.set(flags[i], !c.attrs.flag(flags[i]));
    changed = true;
  }
  if (!changed) return std::nullopt;
  count("matmul_transpose_flag");
  return emit(std::move(next), loc);
}

} // namespace

Graph simplify(const Graph& graph, SimplifyStats* stats) {
  SimplifyStats total;
  std::optional<Graph> current;
  for (int sweep = 0;; ++sweep) {
    if (sweep == kMaxSweeps)
      internal_error("simplify: no fixed point after " + std::to_string(kMaxSweeps) + " sweeps");
    SimplifyStats changes;
    Graph next = Sweep(current ? *current : graph, changes).run();
    for (const auto& [rule, n] : changes)
      total[rule] += n;
    current = std::move(next);
    if (changes.empty()) break;
  }
  if (stats) *stats = std::move(total);
  return std::move(*current);
}

} // namespace sj

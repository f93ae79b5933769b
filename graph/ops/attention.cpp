// Scaled dot-product attention as one op, and the two ops its gradient is made of:
//
//   attention(q [B,H,Tq,D], k [B,H,Tk,D], v [B,H,Tk,D], mask)        -> y   [B,H,Tq,D]
//   attention_lse(q, k, mask)                                          -> lse [B,H,Tq]
//   attention_backprop(q, k, v, mask, y, dy, lse)                      -> [B,H,Tq+2Tk,D]
//
// With s[i, j] = scale * q_i . k_j + mask[i, j] (and s = -inf where causal hides key j from
// query i, j > i + Tk - Tq), y_i = sum_j softmax_j(s[i, :]) v_j and lse_i = log sum_j e^s[i,j].
// A row whose every score is -inf (every key masked or hidden) has no distribution: its output
// is 0, its lse -inf, and it passes no gradient. `scale = 0` (the default) means 1/sqrt(D).
//
// The mask is an operand of every op (a scalar 0 when there is none: the builder adds it, and
// the lowering skips a constant zero mask), so the ops have a fixed arity; it is treated as a
// constant: its gradient is zero, as if it went through stop_gradient.
//
// The gradient of attention is FlashAttention's backward: attention_lse recomputes the row
// statistics, attention_backprop recomputes the probabilities p = e^(s - lse) from them and
// gives dq, dk and dv stacked along axis 2 (sliced apart by the rule), never materializing the
// [Tq, Tk] matrix in compiled code. attention_lse and attention_backprop have no gradient rule:
// a second-order gradient through attention is an "unconnected" error naming
// attention_backprop; build the composition (matmul, softmax, matmul) to differentiate twice.
#include "graph/gradient.h"
#include "graph/limits.h"
#include "graph/ops/kernel_util.h"
#include "graph/ops/shape_util.h"

#include <algorithm>
#include <cmath>
#include <fmt/format.h>

namespace sj {
using namespace ops;

namespace {

// The operands' positions: attention (q k v mask), attention_lse (q k mask) and
// attention_backprop (q k v mask y dy lse).
struct Roles {
  int q, k, v, mask, y, dy, lse; // -1: not an operand of this op
};
constexpr Roles kAttention{0, 1, 2, 3, -1, -1, -1};
constexpr Roles kLse{0, 1, -1, 2, -1, -1, -1};
constexpr Roles kBackprop{0, 1, 2, 3, 4, 5, 6};

Roles roles_of(Op op) {
  return op == Op::attention ? kAttention : op == Op::attention_lse ? kLse : kBackprop;
}

struct Geometry {
  int64_t b, h, tq, tk, d;
  double scale; // resolved: never 0
  bool causal;
};

double resolved_scale(double scale, int64_t d) {
  return scale != 0 ? scale : 1.0 / std::sqrt(double(std::max<int64_t>(d, 1)));
}

Geometry geometry_of(const Graph& g, const Node& n) {
  Roles r = roles_of(n.op);
  const Shape& q = g.type(n.operands[r.q]).shape;
  const Shape& k = g.type(n.operands[r.k]).shape;
  return {q[0],
          q[1],
          q[2],
          k[2],
          q[3],
          resolved_scale(n.attrs.real("scale"), q[3]),
          n.attrs.flag("causal")};
}

TensorType infer(const OpCall& c, Roles r) {
  for (size_t i = 0; i < c.types.size(); ++i) {
    require_float(c, i);
    require_same_dtype(c, 0, i);
  }
  const Shape& q = c.types[r.q].shape;
  const Shape& k = c.types[r.k].shape;
  if (q.size() != 4)
    c.fail(fmt::format("q {} must have rank 4, [batch, heads, queries, depth] (split the heads "
                       "of a [B, T, H*D] tensor with reshape to [B, T, H, D] and transpose "
                       "[0, 2, 1, 3])",
                       shape_str(q)));
  if (k.size() != 4 || k[0] != q[0] || k[1] != q[1] || k[3] != q[3])
    c.fail(fmt::format("k {} must be [batch, heads, keys, depth] with q's batch {}, heads {} and "
                       "depth {}: make it [{}, {}, keys, {}]",
                       shape_str(k), q[0], q[1], q[3], q[0], q[1], q[3]));
  if (r.v >= 0 && c.types[r.v].shape != k)
    c.fail(fmt::format("v {} must have k's shape {} (one value per key)",
                       shape_str(c.types[r.v].shape), shape_str(k)));
  Shape scores{q[0], q[1], q[2], k[2]};
  const Shape& mask = c.types[r.mask].shape;
  if (!broadcasts_to(mask, scores))
    c.fail(fmt::format("the mask {} does not broadcast to the scores' shape {} ([batch, heads, "
                       "queries, keys]); make it e.g. [{}, {}], [1, 1, {}, {}] or a scalar",
                       shape_str(mask), shape_str(scores), q[2], k[2], q[2], k[2]));
  double scale = c.attrs.real("scale");
  if (!std::isfinite(scale))
    c.fail(fmt::format("scale = {} must be a finite number (0, the default, means 1/sqrt(depth))",
                       scale));
  for (int i : {r.y, r.dy})
    if (i >= 0 && c.types[i].shape != q)
      c.fail(fmt::format("{} {} must have q's shape {} (the attention's output)",
                         c.def.operand_names[i], shape_str(c.types[i].shape), shape_str(q)));
  if (r.lse >= 0 && c.types[r.lse].shape != Shape{q[0], q[1], q[2]})
    c.fail(fmt::format("lse {} must be [batch, heads, queries] = {} (attention_lse of q and k)",
                       shape_str(c.types[r.lse].shape), shape_str(Shape{q[0], q[1], q[2]})));
  return {c.types[0].dtype, q};
}

TensorType infer_attention(const OpCall& c) { return infer(c, kAttention); }
TensorType infer_attention_lse(const OpCall& c) {
  TensorType t = infer(c, kLse);
  t.shape.pop_back();
  return t;
}
TensorType infer_attention_backprop(const OpCall& c) {
  TensorType t = infer(c, kBackprop);
  t.shape[2] += 2 * c.types[1].shape[2];
  return t;
}

// The products of q k^T and p v, D per score (for the resource limits); the backward recomputes
// q k^T and forms four more.
Work work_of(const Graph& g, const Node& n, int64_t products) {
  Geometry a = geometry_of(g, n);
  int64_t macs = products;
  for (int64_t x : {a.b, a.h, a.tq, a.tk, a.d})
    macs = saturating_mul(macs, x);
  return {default_work(g, n).elements, macs};
}
Work work_attention(const Graph& g, const Node& n) { return work_of(g, n, 2); }
Work work_attention_lse(const Graph& g, const Node& n) { return work_of(g, n, 1); }
Work work_attention_backprop(const Graph& g, const Node& n) { return work_of(g, n, 5); }

// The FLOPs of the same products over the scores a query sees: all Tk keys, or when causal only
// keys j <= i + Tk - Tq (about half), which the kernels skip.
int64_t flops_of(const Graph& g, const Node& n, int64_t products) {
  Geometry a = geometry_of(g, n);
  int64_t pairs = 0;
  for (int64_t i = 0; i < a.tq; ++i)
    pairs += a.causal ? std::clamp<int64_t>(i + a.tk - a.tq + 1, 0, a.tk) : a.tk;
  int64_t flops = 2 * products;
  for (int64_t x : {a.b, a.h, pairs, a.d})
    flops = saturating_mul(flops, x);
  return flops;
}
int64_t flops_attention(const Graph& g, const Node& n) { return flops_of(g, n, 2); }
int64_t flops_attention_lse(const Graph& g, const Node& n) { return flops_of(g, n, 1); }
int64_t flops_attention_backprop(const Graph& g, const Node& n) { return flops_of(g, n, 5); }

// ---- interpreter kernels: the plain definition, in double ---------------------------------

// The scores of one query row, in double, -inf where causal hides the key.
template <typename T>
struct Scores {
  const EvalCall& c;
  Roles r;
  Geometry a;
  IndexMap mask;

  Scores(const EvalCall& call, Roles roles)
      : c(call), r(roles), a(geometry_of(call.graph, call.node)),
        mask(broadcast_map(call.args[roles.mask]->shape(), {a.b, a.h, a.tq, a.tk})) {}

  const T* at(int role, int64_t bh, int64_t row, int64_t rows) const {
    return c.args[role]->template data<T>() + (bh * rows + row) * a.d;
  }
  // s[j] for query i of head bh.
  void row(int64_t bh, int64_t i, std::vector<double>& s) const {
    s.assign(size_t(a.tk), -std::numeric_limits<double>::infinity());
    const T* qi = at(r.q, bh, i, a.tq);
    const T* m = c.args[r.mask]->template data<T>();
    for (int64_t j = 0; j < a.tk; ++j) {
      if (a.causal && j > i + (a.tk - a.tq)) continue;
      const T* kj = at(r.k, bh, j, a.tk);
      Sum dot;
      for (int64_t d = 0; d < a.d; ++d)
        dot.add(double(qi[d]) * double(kj[d]));
      s[size_t(j)] = a.scale * dot.value() + double(m[mask((bh * a.tq + i) * a.tk + j)]);
    }
  }
};

// The row's maximum (NaN if any score is) and log-sum-exp; -inf for a row without keys.
struct RowSoftmax {
  double max = -std::numeric_limits<double>::infinity();
  double sum = 0; // of e^(s - max)
  explicit RowSoftmax(const std::vector<double>& s) {
    for (double x : s)
      max = maximum_of(max, x);
    if (max == -std::numeric_limits<double>::infinity()) return;
    Sum total;
    for (double x : s)
      total.add(std::exp(x - max));
    sum = total.value();
  }
  bool empty() const { return max == -std::numeric_limits<double>::infinity(); }
  double lse() const { return empty() ? max : max + std::log(sum); }
};

Tensor eval_attention(const EvalCall& c) {
  Tensor out(c.type());
  visit_float(out.dtype(), [&]<typename T>() {
    Scores<T> sc(c, kAttention);
    const Geometry& a = sc.a;
    std::vector<double> s;
    for (int64_t bh = 0; bh < a.b * a.h; ++bh)
      for (int64_t i = 0; i < a.tq; ++i) {
        sc.row(bh, i, s);
        RowSoftmax sm(s);
        T* yi = out.data<T>() + (bh * a.tq + i) * a.d;
        for (double& x : s)
          x = sm.empty() ? 0.0 : std::exp(x - sm.max); // now the unnormalized probabilities
        for (int64_t d = 0; d < a.d; ++d) {
          Sum acc;
          for (int64_t j = 0; j < a.tk; ++j)
            acc.add(s[size_t(j)] * double(sc.at(2, bh, j, a.tk)[d]));
          yi[d] = sm.empty() ? T(0) : static_cast<T>(acc.value() / sm.sum);
        }
      }
  });
  return out;
}

Tensor eval_attention_lse(const EvalCall& c) {
  Tensor out(c.type());
  visit_float(out.dtype(), [&]<typename T>() {
    Scores<T> sc(c, kLse);
    std::vector<double> s;
    for (int64_t bh = 0; bh < sc.a.b * sc.a.h; ++bh)
      for (int64_t i = 0; i < sc.a.tq; ++i) {
        sc.row(bh, i, s);
        out.data<T>()[bh * sc.a.tq + i] = static_cast<T>(RowSoftmax(s).lse());
      }
  });
  return out;
}

// p = e^(s - lse) (0 where s or lse is -inf), dp = dy_i . v_j, ds = p (dp - dy_i . y_i); then
// dq_i = scale sum_j ds k_j, dk_j = scale sum_i ds q_i, dv_j = sum_i p dy_i.
Tensor eval_attention_backprop(const EvalCall& c) {
  Tensor out(c.type());
  visit_float(out.dtype(), [&]<typename T>() {
    Scores<T> sc(c, kBackprop);
    const Geometry& a = sc.a;
    const Roles& r = kBackprop;
    int64_t rows = a.tq + 2 * a.tk;
    std::vector<double> s;
    for (int64_t bh = 0; bh < a.b * a.h; ++bh) {
      // Sums for dq (Tq rows), dk and dv (Tk rows each), in the result's row order.
      std::vector<Sum> acc(size_t(rows * a.d));
      auto add_row = [&](int64_t row, double w, const T* x) {
        for (int64_t d = 0; d < a.d; ++d)
          acc[size_t(row * a.d + d)].add(w * double(x[d]));
      };
      for (int64_t i = 0; i < a.tq; ++i) {
        double lse = double(c.args[r.lse]->template data<T>()[bh * a.tq + i]);
        if (lse == -std::numeric_limits<double>::infinity()) continue; // no keys: no gradient
        sc.row(bh, i, s);
        const T* qi = sc.at(r.q, bh, i, a.tq);
        const T* dyi = sc.at(r.dy, bh, i, a.tq);
        const T* yi = sc.at(r.y, bh, i, a.tq);
        Sum di;
        for (int64_t d = 0; d < a.d; ++d)
          di.add(double(dyi[d]) * double(yi[d]));
        for (int64_t j = 0; j < a.tk; ++j) {
          if (s[size_t(j)] == -std::numeric_limits<double>::infinity()) continue;
          double p = std::exp(s[size_t(j)] - lse);
          const T* kj = sc.at(r.k, bh, j, a.tk);
          const T* vj = sc.at(r.v, bh, j, a.tk);
          Sum dp;
          for (int64_t d = 0; d < a.d; ++d)
            dp.add(double(dyi[d]) * double(vj[d]));
          double ds = p * (dp.value() - di.value());
          add_row(i, a.scale * ds, kj);
          add_row(a.tq + j, a.scale * ds, qi);
          add_row(a.tq + a.tk + j, p, dyi);
        }
      }
      T* o = out.data<T>() + bh * rows * a.d;
      for (size_t e = 0; e < acc.size(); ++e)
        o[e] = static_cast<T>(acc[e].value());
    }
  });
  return out;
}

// ---- gradient rule ---------------------------------------------------------------------

void grad_attention(GradCall& c) {
  Value q = c.x[0], k = c.x[1], v = c.x[2], mask = c.x[3];
  Value lse = emit(c, Op::attention_lse, {q, k, mask}, c.attrs());
  Value packed = emit(c, Op::attention_backprop, {q, k, v, mask, c.y, c.g, lse}, c.attrs());
  Shape s = q.shape();
  int64_t tq = s[2], tk = k.shape()[2];
  auto rows = [&](int64_t begin, int64_t end) {
    return slice(packed, {0, 0, begin, 0}, {s[0], s[1], end, s[3]});
  };
  if (c.wants(0)) c.set(0, rows(0, tq));
  if (c.wants(1)) c.set(1, rows(tq, tq + tk));
  if (c.wants(2)) c.set(2, rows(tq + tk, tq + 2 * tk));
  if (c.wants(3)) c.set(3, fill(c.graph, mask.type(), 0.0)); // the mask is a constant
}

std::vector<AttrSpec> attention_attrs() {
  return {{"causal", AttrKind::boolean, false}, {"scale", AttrKind::real, 0.0}};
}

} // namespace

extern const OpDef attention_def = {
    .op = Op::attention,
    .name = "attention",
    .num_operands = 4,
    .operand_names = {"q", "k", "v", "mask"},
    .attrs = attention_attrs(),
    .infer = infer_attention,
    .eval = eval_attention,
    .grad = grad_attention,
    .summary = "softmax(q kᵀ scale + mask) v over q [B,H,Tq,D], k and v [B,H,Tk,D]; mask "
               "broadcasts to [B,H,Tq,Tk] (a scalar 0: none), causal hides key j from query i "
               "when j > i + Tk - Tq; scale = 0 means 1/sqrt(D); a row with every score -inf "
               "gives 0; the mask gets no gradient",
    .work = work_attention,
    .flops = flops_attention};
extern const OpDef attention_lse_def = {
    .op = Op::attention_lse,
    .name = "attention_lse",
    .num_operands = 3,
    .operand_names = {"q", "k", "mask"},
    .attrs = attention_attrs(),
    .infer = infer_attention_lse,
    .eval = eval_attention_lse,
    .summary = "the log-sum-exp of each query row of attention's scores, [B,H,Tq] (-inf for a "
               "row with every score -inf); no gradient",
    .work = work_attention_lse,
    .flops = flops_attention_lse};
extern const OpDef attention_backprop_def = {
    .op = Op::attention_backprop,
    .name = "attention_backprop",
    .num_operands = 7,
    .operand_names = {"q", "k", "v", "mask", "y", "dy", "lse"},
    .attrs = attention_attrs(),
    .infer = infer_attention_backprop,
    .eval = eval_attention_backprop,
    .summary = "the gradient of attention (y its output, dy the gradient of y, lse from "
               "attention_lse): dq, dk, dv stacked along axis 2, [B,H,Tq+2Tk,D]; no gradient",
    .work = work_attention_backprop,
    .flops = flops_attention_backprop};

} // namespace sj

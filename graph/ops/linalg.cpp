// Matrix multiplication: 2-D, and batched with NumPy-broadcast batch dimensions.
#include "graph/gradient.h"
#include "graph/limits.h"
#include "graph/ops/kernel_util.h"
#include "graph/ops/shape_util.h"

#include <Eigen/Core>
#include <fmt/format.h>

namespace sj {
using namespace ops;

namespace {

TensorType infer_matmul(const OpCall& c) {
  require_float(c, 0);
  require_float(c, 1);
  require_same_dtype(c, 0, 1);
  const Shape& a = c.types[0].shape;
  const Shape& b = c.types[1].shape;
  for (size_t i = 0; i < 2; ++i)
    if (c.types[i].rank() < 2)
      c.fail(fmt::format("operand '{}' has rank {}, matmul needs rank 2 or more (a vector must "
                         "be reshaped to [1,n] or [n,1] first)",
                         c.def.operand_names[i], c.types[i].rank()));
  bool ta = c.attrs.flag("transpose_a"), tb = c.attrs.flag("transpose_b");
  size_t ra = a.size(), rb = b.size();
  int64_t m = ta ? a[ra - 1] : a[ra - 2], ka = ta ? a[ra - 2] : a[ra - 1];
  int64_t kb = tb ? b[rb - 1] : b[rb - 2], n = tb ? b[rb - 2] : b[rb - 1];
  if (ka != kb) {
    std::string hint;
    // Suggest the flag that would make the inner dimensions agree.
    int64_t kb_flipped = tb ? b[rb - 2] : b[rb - 1];
    int64_t ka_flipped = ta ? a[ra - 1] : a[ra - 2];
    if (ka == kb_flipped)
      hint = fmt::format("; did you mean transpose_b = {}?", tb ? "false" : "true");
    else if (ka_flipped == kb)
      hint = fmt::format("; did you mean transpose_a = {}?", ta ? "false" : "true");
    c.fail(fmt::format("inner dimensions differ: a{} contributes {} (its {} dimension) but "
                       "b{} contributes {} (its {} dimension){}",
                       ta ? " (transposed)" : "", ka, ta ? "second-to-last" : "last",
                       tb ? " (transposed)" : "", kb, tb ? "last" : "second-to-last", hint));
  }
  Shape batch_a(a.begin(), a.end() - 2), batch_b(b.begin(), b.end() - 2);
  Shape out = broadcast_shapes(c, batch_a, batch_b);
  out.push_back(m);
  out.push_back(n);
  return {c.types[0].dtype, out};
}

// Each batch's product is computed in double with Eigen and rounded once to the dtype: for f32
// that is more accurate than any f32 kernel, which is what the oracle is for.
Tensor eval_matmul(const EvalCall& c) {
  using Matrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  const Tensor& a = *c.args[0];
  const Tensor& b = *c.args[1];
  const Shape& out_shape = c.type().shape;
  // Each operand's last two dimensions as stored (before any transpose), and the batch maps.
  auto rows = [](const Tensor& t) { return t.shape()[t.rank() - 2]; };
  auto cols = [](const Tensor& t) { return t.shape()[t.rank() - 1]; };
  auto batch = [](const Shape& s) { return Shape(s.begin(), s.end() - 2); };
  Shape out_batch = batch(out_shape);
  IndexMap batch_a = broadcast_map(batch(a.shape()), out_batch);
  IndexMap batch_b = broadcast_map(batch(b.shape()), out_batch);
  int64_t m = out_shape[out_shape.size() - 2], n = out_shape.back();
  bool ta = c.attrs().flag("transpose_a"), tb = c.attrs().flag("transpose_b");

  Tensor out(c.type());
  visit_float(c.type().dtype, [&]<typename T>() {
    using Stored = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
    // Batch i of t, read through the broadcast map, as a double matrix (transposed if asked).
    auto operand = [&](const Tensor& t, const IndexMap& map, int64_t i, bool transpose) {
      int64_t r = rows(t), k = cols(t);
      Matrix mat =
          Eigen::Map<const Stored>(t.data<T>() + map(i) * r * k, r, k).template cast<double>();
      if (transpose) mat.transposeInPlace();
      return mat;
    };
    for (int64_t i = 0; i < num_elements(out_batch); ++i) {
      Matrix product = operand(a, batch_a, i, ta) * operand(b, batch_b, i, tb);
      SJ_ASSERT(product.rows() == m && product.cols() == n);
      Eigen::Map<Stored>(out.data<T>() + i * m * n, m, n) = product.template cast<T>();
    }
  });
  return out;
}

// C = op(A) op(B), op transposing when its flag is set. Each operand's gradient is again one
// matmul of g with the other operand, with flags chosen so no transpose node is needed:
//   C = A B      dA = g B^T           dB = A^T g
//   C = A B^T    dA = g B             dB = g^T A
//   C = A^T B    dA = B g^T           dB = A g
//   C = A^T B^T  dA = B^T g^T         dB = g^T A^T
// Batch dimensions that were broadcast are summed back (unbroadcast).
void grad_matmul(GradCall& c) {
  bool ta = c.attrs().flag("transpose_a"), tb = c.attrs().flag("transpose_b");
  Value a = c.x[0], b = c.x[1], g = c.g;
  if (c.wants(0)) {
    Value da = !ta ? matmul(g, b, {.transpose_a = false, .transpose_b = !tb})
                   : matmul(b, g, {.transpose_a = tb, .transpose_b = true});
    c.set(0, unbroadcast(da, a.shape()));
  }
  if (c.wants(1)) {
    if (b.rank() == 2 && a.rank() > 2 && !ta) {
      // A weight shared by every batch (a Dense layer on [B, T, C]): one product over all B T
      // rows, not B products summed afterwards (B times the memory, then a strided reduction).
      Shape rows = {a.type().num_elements() / a.shape().back(), a.shape().back()};
      Shape grows = {rows[0], g.shape().back()};
      Value a2 = reshape(a, rows);
      Value g2 = reshape(g, grows);
      c.set(1, !tb ? matmul(a2, g2, {.transpose_a = true}) : matmul(g2, a2, {.transpose_a = true}));
      return;
    }
    Value db = !tb ? matmul(a, g, {.transpose_a = !ta, .transpose_b = false})
                   : matmul(g, a, {.transpose_a = true, .transpose_b = ta});
    c.set(1, unbroadcast(db, b.shape()));
  }
}

// Every result element is a dot product of the inner dimension: batch x M x N x K.
Work work_matmul(const Graph& g, const Node& n) {
  const Shape& a = g.type(n.operands[0]).shape;
  int64_t k = n.attrs.flag("transpose_a") ? a[a.size() - 2] : a.back();
  return {default_work(g, n).elements, saturating_mul(n.type.num_elements(), k)};
}

} // namespace

extern const OpDef matmul_def = {
    .op = Op::matmul,
    .name = "matmul",
    .num_operands = 2,
    .operand_names = {"a", "b"},
    .attrs = {{"transpose_a", AttrKind::boolean, false}, {"transpose_b", AttrKind::boolean, false}},
    .infer = infer_matmul,
    .eval = eval_matmul,
    .grad = grad_matmul,
    .summary = "[..., m, k] x [..., k, n] -> [..., m, n]; batch dimensions broadcast",
    .work = work_matmul};

} // namespace sj

// Matrix multiplication: 2-D, and batched with NumPy-broadcast batch dimensions.
#include "graph/ops/shape_util.h"

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

} // namespace

extern const OpDef matmul_def = {
    .op = Op::matmul,
    .name = "matmul",
    .num_operands = 2,
    .operand_names = {"a", "b"},
    .attrs = {{"transpose_a", AttrKind::boolean, false}, {"transpose_b", AttrKind::boolean, false}},
    .infer = infer_matmul,
    .eval = nullptr,
    .summary = "[..., m, k] x [..., k, n] -> [..., m, n]; batch dimensions broadcast"};

} // namespace sj

// Lowering of the layout ops: index maps (transpose, reshape, broadcast_to, slice, pad), fused
// like elementwise ops, and concat, which copies each operand into its place.
#include "codegen/lowerer.h"
#include "graph/ops/kernel_util.h"

namespace sj::codegen {

namespace {

using V = llvm::Value*;

V lower_transpose(const ElementCall& c) {
  const auto& perm = c.attrs().ints("perm");
  const auto& dims = c.index.dims(c.b());
  std::vector<V> from(perm.size());
  for (size_t i = 0; i < perm.size(); ++i)
    from[perm[i]] = dims[i];
  Index at = Index::dims(c.lowerer.graph().type(c.node.operands[0]).shape, from);
  return c.operand_at(0, at);
}

V lower_reshape(const ElementCall& c) {
  Index at = Index::flat(c.lowerer.graph().type(c.node.operands[0]).shape, c.index.linear(c.b()));
  return c.operand_at(0, at);
}

V lower_broadcast_to(const ElementCall& c) { return c.operand(0); }

V lower_slice(const ElementCall& c) {
  const auto& begin = c.attrs().ints("begin");
  const auto& dims = c.index.dims(c.b());
  std::vector<V> from;
  for (size_t d = 0; d < dims.size(); ++d)
    from.push_back(c.b().CreateAdd(dims[d], c.b().getInt64(begin[d])));
  Index at = Index::dims(c.lowerer.graph().type(c.node.operands[0]).shape, from);
  return c.operand_at(0, at);
}

// The operand's element where the position is inside it, else the padding value.
V lower_pad(const ElementCall& c) {
  auto& b = c.b();
  const Shape& x = c.lowerer.graph().type(c.node.operands[0]).shape;
  const auto& pads = c.attrs().ints("pads");
  llvm::Type* t = c.type(c.dtype());
  double value = c.attrs().real("value");
  V fill = visit_dtype(c.dtype(), [&]<typename T>() -> V {
    T v = ops::convert<T>(value); // as the interpreter converts it
    if constexpr (std::is_floating_point_v<T>)
      return llvm::ConstantFP::get(t, double(v));
    else
      return llvm::ConstantInt::get(t, uint64_t(int64_t(v)), true);
  });
  if (num_elements(x) == 0) return fill;
  const auto& dims = c.index.dims(b);
  V inside = b.getTrue();
  std::vector<V> from;
  for (size_t d = 0; d < x.size(); ++d) {
    V j = b.CreateSub(dims[d], b.getInt64(pads[2 * d]));
    V ok = b.CreateAnd(b.CreateICmpSGE(j, b.getInt64(0)), b.CreateICmpSLT(j, b.getInt64(x[d])));
    inside = b.CreateAnd(inside, ok);
    from.push_back(b.CreateSelect(ok, j, b.getInt64(0)));
  }
  Index at = Index::dims(x, from);
  return b.CreateSelect(inside, c.operand_at(0, at), fill);
}

void lower_concat(const LowerCall& c) {
  const Graph& g = c.lowerer.graph();
  int rank = c.node.type.rank();
  int64_t axis = c.attrs().integer("axis");
  if (axis < 0) axis += rank;
  int64_t offset = 0;
  for (size_t i = 0; i < c.node.operands.size(); ++i) {
    const Shape& shape = g.type(c.node.operands[i]).shape;
    c.for_each(shape, [&](Index& at) {
      std::vector<V> out = at.dims(c.b());
      out[axis] = c.b().CreateAdd(out[axis], c.i64(offset));
      Index to = Index::dims(c.node.type.shape, out);
      c.lowerer.store(c.id, to.linear(c.b()), c.operand_at(i, at));
    });
    offset += shape[axis];
  }
}

} // namespace

extern const Lowering transpose_lowering{.element = lower_transpose};
extern const Lowering reshape_lowering{.element = lower_reshape};
extern const Lowering broadcast_to_lowering{.element = lower_broadcast_to};
extern const Lowering slice_lowering{.element = lower_slice};
extern const Lowering pad_lowering{.element = lower_pad};
extern const Lowering concat_lowering{.lower = lower_concat};

} // namespace sj::codegen

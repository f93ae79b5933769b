// Lowering of attention, attention_lse and attention_backprop: each is one call of a kernel of
// kernels/attention.h (FlashAttention's blocked schedule, on the step's thread pool) with the
// sizes, the resolved scale, the operands' buffers and the mask's broadcast strides. A mask that
// is a constant zero (the builder's "no mask") is passed as null, so it costs nothing. f64 calls
// the same drivers with plain loops for the inner products.
#include "kernels/attention.h"

#include "codegen/lowerer.h"

#include <cmath>
#include <cstddef>

namespace sj::codegen {

namespace {

using V = llvm::Value*;

// The operand positions of each op (graph/ops/attention.cpp); -1: none.
struct Operands {
  int q, k, v, mask, y, dy, lse;
};

bool is_zero_constant(const Graph& g, ValueId v) {
  const Node& n = g.node(v);
  if (n.op != Op::constant) return false;
  const Tensor& t = n.attrs.tensor("value");
  for (int64_t i = 0; i < t.num_elements(); ++i)
    if (t.as_double(i) != 0) return false;
  return true;
}

// kind: the forward (attention: out = y; attention_lse: lse = result) or the backward.
void lower_attention_call(const LowerCall& c, Operands o, bool backward, bool lse_result) {
  Lowerer& L = c.lowerer;
  auto& b = c.b();
  const Graph& g = L.graph();
  const Node& n = c.node;
  if (n.type.num_elements() == 0) return;
  const Shape& q = g.type(n.operands[o.q]).shape;
  int64_t tk = g.type(n.operands[o.k]).shape[2];
  // The same resolution as the op's kernels: scale = 0 means 1/sqrt(D).
  double scale = n.attrs.real("scale");
  if (scale == 0) scale = 1.0 / std::sqrt(double(std::max<int64_t>(q[3], 1)));

  V args = L.slot(llvm::ArrayType::get(b.getInt64Ty(), sizeof(SjAttentionArgs) / 8));
  auto field = [&](size_t offset, V value) {
    b.CreateStore(value, b.CreateConstInBoundsGEP1_64(b.getInt8Ty(), args, offset));
  };
  auto word = [&](size_t offset, int64_t value) { field(offset, c.i64(value)); };
  auto null = llvm::ConstantPointerNull::get(b.getPtrTy());
  auto operand = [&](size_t offset, int i) {
    field(offset, i >= 0 ? L.buffer(n.operands[i]) : static_cast<V>(null));
  };
  word(offsetof(SjAttentionArgs, b), q[0]);
  word(offsetof(SjAttentionArgs, h), q[1]);
  word(offsetof(SjAttentionArgs, tq), q[2]);
  word(offsetof(SjAttentionArgs, tk), tk);
  word(offsetof(SjAttentionArgs, d), q[3]);
  word(offsetof(SjAttentionArgs, causal), n.attrs.flag("causal") ? 1 : 0);
  field(offsetof(SjAttentionArgs, scale), llvm::ConstantFP::get(b.getDoubleTy(), scale));
  operand(offsetof(SjAttentionArgs, q), o.q);
  operand(offsetof(SjAttentionArgs, k), o.k);
  operand(offsetof(SjAttentionArgs, v), o.v);
  // The mask's strides over [B, H, Tq, Tk]: its dimensions align right; broadcast ones are 0.
  ValueId mask = n.operands[o.mask];
  const Shape& ms = g.type(mask).shape;
  int64_t stride = 1;
  int64_t strides[4] = {0, 0, 0, 0};
  for (int d = 3, md = int(ms.size()) - 1; md >= 0; --d, --md) {
    strides[d] = ms[md] == 1 ? 0 : stride;
    stride *= ms[md];
  }
  bool no_mask = is_zero_constant(g, mask);
  field(offsetof(SjAttentionArgs, mask), no_mask ? static_cast<V>(null) : L.buffer(mask));
  for (int d = 0; d < 4; ++d)
    word(offsetof(SjAttentionArgs, mask_stride) + 8 * d, strides[d]);
  operand(offsetof(SjAttentionArgs, y), o.y);
  operand(offsetof(SjAttentionArgs, dy), o.dy);
  if (lse_result) {
    field(offsetof(SjAttentionArgs, lse), c.result());
    field(offsetof(SjAttentionArgs, out), null);
  } else {
    operand(offsetof(SjAttentionArgs, lse), o.lse);
    field(offsetof(SjAttentionArgs, out), c.result());
  }
  field(offsetof(SjAttentionArgs, pool), L.pool());
  bool f32 = n.type.dtype == DType::f32;
  const char* kernel = backward ? (f32 ? "sj_attention_backprop_f32" : "sj_attention_backprop_f64")
                                : (f32 ? "sj_attention_f32" : "sj_attention_f64");
  llvm::FunctionCallee fn = L.module().getOrInsertFunction(
      kernel, llvm::FunctionType::get(b.getVoidTy(), {b.getPtrTy()}, false));
  b.CreateCall(fn, {args});
}

void lower_attention(const LowerCall& c) {
  lower_attention_call(c, {0, 1, 2, 3, -1, -1, -1}, false, false);
}
void lower_attention_lse(const LowerCall& c) {
  lower_attention_call(c, {0, 1, -1, 2, -1, -1, -1}, false, true);
}
void lower_attention_backprop(const LowerCall& c) {
  lower_attention_call(c, {0, 1, 2, 3, 4, 5, 6}, true, false);
}

} // namespace

extern const Lowering attention_lowering{.lower = lower_attention};
extern const Lowering attention_lse_lowering{.lower = lower_attention_lse};
extern const Lowering attention_backprop_lowering{.lower = lower_attention_backprop};

} // namespace sj::codegen

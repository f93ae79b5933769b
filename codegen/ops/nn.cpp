// Lowering of the neural-network ops: softmax and log_softmax (three passes over each row,
// subtracting the maximum), the fused cross-entropy, the index maps one_hot and gather, and
// scatter_add.
#include "codegen/lowerer.h"
#include "codegen/vector_math.h"

namespace sj::codegen {

namespace {

using V = llvm::Value*;

V exp_of(Lowerer& L, V x) { return emit_exp(L.b(), x); }

// Walks every row along `axis` of `shape`; calls body(index-of-element-j) builder per pass.
struct Rows {
  const LowerCall& c;
  Shape shape;
  int axis;

  // For each row: the max, the sum of exp(x - max) (in f64), then `finish(row_at, max, sum)`.
  void run(const std::function<void(const std::function<Index(V)>&, V, V)>& finish) const {
    Lowerer& L = c.lowerer;
    auto& b = c.b();
    DType t = L.graph().type(c.node.operands[0]).dtype;
    llvm::Type* rt = L.reg_type(t);
    Shape outer = shape;
    outer[axis] = 1;
    V max_slot = L.slot(rt), sum_slot = L.slot(b.getDoubleTy());
    c.for_each(outer, [&](Index& o) {
      std::vector<V> od = o.dims(b);
      auto at = [&, od](V j) mutable {
        std::vector<V> d = od;
        d[axis] = j;
        return Index::dims(shape, d);
      };
      b.CreateStore(llvm::ConstantFP::getInfinity(rt, true), max_slot);
      c.loop(shape[axis], [&](V j) {
        Index i = at(j);
        V x = c.operand_at(0, i);
        b.CreateStore(
            b.CreateBinaryIntrinsic(llvm::Intrinsic::maximum, b.CreateLoad(rt, max_slot), x),
            max_slot);
      });
      V max = b.CreateLoad(rt, max_slot);
      b.CreateStore(llvm::ConstantFP::get(b.getDoubleTy(), 0.0), sum_slot);
      c.loop(shape[axis], [&](V j) {
        Index i = at(j);
        V e = exp_of(L, b.CreateFSub(c.operand_at(0, i), max));
        b.CreateStore(L.accumulate(b.CreateLoad(b.getDoubleTy(), sum_slot),
                                   b.CreateFPExt(e, b.getDoubleTy())),
                      sum_slot);
      });
      finish(at, max, b.CreateLoad(b.getDoubleTy(), sum_slot));
    });
  }
};

int axis_of(const LowerCall& c) {
  int64_t axis = c.attrs().integer("axis");
  int rank = c.node.type.rank();
  return static_cast<int>(axis < 0 ? axis + rank : axis);
}

void lower_softmax(const LowerCall& c) {
  auto& b = c.b();
  Rows{c, c.node.type.shape, axis_of(c)}.run([&](const auto& at, V max, V sum) {
    llvm::Type* rt = max->getType();
    V inv = b.CreateFPCast(b.CreateFDiv(llvm::ConstantFP::get(b.getDoubleTy(), 1.0), sum), rt);
    c.loop(c.node.type.shape[axis_of(c)], [&](V j) {
      Index i = at(j);
      V e = exp_of(c.lowerer, b.CreateFSub(c.operand_at(0, i), max));
      c.lowerer.store(c.id, i.linear(b), b.CreateFMul(e, inv));
    });
  });
}

void lower_log_softmax(const LowerCall& c) {
  // (x - max) - log(sum), in f64: for large f32 logits, x - (max + log(sum)) loses the digits.
  auto& b = c.b();
  Rows{c, c.node.type.shape, axis_of(c)}.run([&](const auto& at, V max, V sum) {
    llvm::Type* rt = max->getType();
    llvm::Type* dt = b.getDoubleTy();
    V log_sum = b.CreateUnaryIntrinsic(llvm::Intrinsic::log, sum);
    V max_d = b.CreateFPExt(max, dt);
    c.loop(c.node.type.shape[axis_of(c)], [&](V j) {
      Index i = at(j);
      V shifted = b.CreateFSub(b.CreateFPExt(c.operand_at(0, i), dt), max_d);
      c.lowerer.store(c.id, i.linear(b), b.CreateFPCast(b.CreateFSub(shifted, log_sum), rt));
    });
  });
}

void lower_softmax_cross_entropy(const LowerCall& c) {
  Lowerer& L = c.lowerer;
  auto& b = c.b();
  const Graph& g = L.graph();
  Shape logits = g.type(c.node.operands[0]).shape;
  Shape labels = g.type(c.node.operands[1]).shape;
  int axis = static_cast<int>(logits.size()) - 1;
  int64_t classes = logits[axis];
  llvm::Type* dt = b.getDoubleTy();
  V total = L.slot(dt);
  b.CreateStore(llvm::ConstantFP::get(dt, 0.0), total);
  Rows{c, logits, axis}.run([&](const auto& at, V max, V sum) {
    // The row's label, at the row's position without the class axis.
    Index row = at(c.i64(0));
    std::vector<V> ld(row.dims(b).begin(), row.dims(b).end() - 1);
    Index li = Index::dims(labels, ld);
    V label = b.CreateSExt(c.operand_at(1, li), b.getInt64Ty());
    V bad = b.CreateOr(b.CreateICmpSLT(label, c.i64(0)), b.CreateICmpSGE(label, c.i64(classes)));
    c.error_if(bad, label, li.linear(b));
    V safe = b.CreateSelect(bad, c.i64(0), label);
    Index xi = at(safe);
    V picked = b.CreateFPExt(c.operand_at(0, xi), dt);
    V lse = b.CreateFAdd(b.CreateUnaryIntrinsic(llvm::Intrinsic::log, sum), b.CreateFPExt(max, dt));
    b.CreateStore(L.accumulate(b.CreateLoad(dt, total), b.CreateFSub(lse, picked)), total);
  });
  V mean = b.CreateFDiv(b.CreateLoad(dt, total),
                        llvm::ConstantFP::get(dt, double(num_elements(labels))));
  L.store(c.id, c.i64(0), b.CreateFPCast(mean, L.reg_type(c.node.type.dtype)));
}

V lower_one_hot(const ElementCall& c) {
  auto& b = c.b();
  const auto& d = c.index.dims(b);
  std::vector<V> idx(d.begin(), d.end() - 1);
  Index at = Index::dims(c.lowerer.graph().type(c.node.operands[0]).shape, idx);
  V index = b.CreateSExt(c.operand_at(0, at), b.getInt64Ty());
  V hit = b.CreateICmpEQ(index, d.back());
  llvm::Type* t = c.type(c.dtype());
  if (c.dtype() == DType::boolean) return hit;
  return is_float(c.dtype()) ? b.CreateUIToFP(hit, t) : b.CreateZExt(hit, t);
}

// Whether `index` is outside [0, rows).
V out_of_range(llvm::IRBuilder<>& b, V index, int64_t rows) {
  return b.CreateOr(b.CreateICmpSLT(index, b.getInt64(0)),
                    b.CreateICmpSGE(index, b.getInt64(rows)));
}

// Every index of operand 1 against `rows`, in order (the first bad one is reported).
void check_indices(const LowerCall& c, int64_t rows) {
  auto& b = c.b();
  const Shape& indices = c.lowerer.graph().type(c.node.operands[1]).shape;
  c.loop(num_elements(indices), [&](V i) {
    Index at = Index::flat(indices, i);
    V index = b.CreateSExt(c.operand_at(1, at), b.getInt64Ty());
    c.error_if(out_of_range(b, index, rows), index, i);
  });
}

void check_gather(const LowerCall& c) {
  check_indices(c, c.lowerer.graph().type(c.node.operands[0]).shape[0]);
}

// The indices were checked before this loop (check_gather); a bad one reads row 0 (the step
// fails anyway), and a table without rows is read nowhere.
V lower_gather(const ElementCall& c) {
  auto& b = c.b();
  const Graph& g = c.lowerer.graph();
  const Shape& table = g.type(c.node.operands[0]).shape;
  const Shape& indices = g.type(c.node.operands[1]).shape;
  if (table[0] == 0) return llvm::Constant::getNullValue(c.type(c.dtype()));
  const auto& d = c.index.dims(b);
  std::vector<V> id(d.begin(), d.begin() + indices.size());
  Index ii = Index::dims(indices, id);
  V row = b.CreateSExt(c.operand_at(1, ii), b.getInt64Ty());
  std::vector<V> td{b.CreateSelect(out_of_range(b, row, table[0]), b.getInt64(0), row)};
  td.insert(td.end(), d.begin() + indices.size(), d.end());
  Index ti = Index::dims(table, td);
  return c.operand_at(0, ti);
}

// A zero table, then row i of the updates added to row indices[i], in index order (so the sum
// is the same for any thread count).
void lower_scatter_add(const LowerCall& c) {
  Lowerer& L = c.lowerer;
  auto& b = c.b();
  const Shape& out = c.node.type.shape;
  const Shape& updates = L.graph().type(c.node.operands[0]).shape;
  const Shape& indices = L.graph().type(c.node.operands[1]).shape;
  int64_t rows = out[0], row = out[0] == 0 ? 0 : num_elements(out) / out[0];
  auto align = llvm::MaybeAlign(dtype_size(c.node.type.dtype));
  b.CreateMemSet(c.result(), b.getInt8(0), c.i64(int64_t(c.node.type.byte_size())), align);
  check_indices(c, rows);
  if (row == 0) return;
  c.loop(num_elements(indices), [&](V i) {
    Index at = Index::flat(indices, i);
    V index = b.CreateSExt(c.operand_at(1, at), b.getInt64Ty());
    V bad = out_of_range(b, index, rows);
    // A bad row adds nothing (the step fails); the check above recorded it.
    V base = b.CreateMul(b.CreateSelect(bad, c.i64(0), index), c.i64(row));
    c.loop(b.CreateSelect(bad, c.i64(0), c.i64(row)), [&](V k) {
      Index from = Index::flat(updates, b.CreateAdd(b.CreateMul(i, c.i64(row)), k));
      V to = b.CreateAdd(base, k);
      llvm::Type* t = L.mem_type(c.node.type.dtype);
      V ptr = b.CreateInBoundsGEP(t, c.result(), to);
      V sum = b.CreateAlignedLoad(t, ptr, llvm::Align(dtype_size(c.node.type.dtype)));
      V x = c.operand_at(0, from);
      sum = t->isFloatingPointTy() ? b.CreateFAdd(sum, x) : b.CreateAdd(sum, x);
      b.CreateAlignedStore(sum, ptr, llvm::Align(dtype_size(c.node.type.dtype)));
    });
  });
}

} // namespace

extern const Lowering softmax_lowering{.lower = lower_softmax};
extern const Lowering log_softmax_lowering{.lower = lower_log_softmax};
extern const Lowering softmax_cross_entropy_lowering{.lower = lower_softmax_cross_entropy};
extern const Lowering one_hot_lowering{.element = lower_one_hot};
extern const Lowering gather_lowering{.element = lower_gather, .check = check_gather};
extern const Lowering scatter_add_lowering{.lower = lower_scatter_add};

} // namespace sj::codegen

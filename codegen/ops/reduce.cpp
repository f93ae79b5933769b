// Lowering of reductions: an outer loop over the result, an inner loop over the reduced
// elements; a reduction over leading axes streams rows instead (lower_reduce). f32 sums accumulate
// in f64 (as close to the interpreter as a plain loop gets); the accumulation may be reassociated
// so it vectorizes (deterministic for a given machine). argmax: one loop over each row along its
// axis, keeping the first maximum and its index.
#include "codegen/lowerer.h"

#include <limits>

namespace sj::codegen {

namespace {

using V = llvm::Value*;

enum class Kind { sum, mean, max };

// Kept elements up to which a reduction over leading axes streams rows into an array of
// accumulators (on the stack: at most 8 KB of f64).
constexpr int64_t kRowAccumulators = 1024;

void lower_reduce(const LowerCall& c, Kind kind) {
  Lowerer& L = c.lowerer;
  auto& b = c.b();
  const Shape& x = L.graph().type(c.node.operands[0]).shape;
  int rank = static_cast<int>(x.size());
  std::vector<bool> reduced(rank, false);
  for (int64_t a : c.attrs().ints("axes"))
    reduced[a < 0 ? a + rank : a] = true;
  Shape inner; // the reduced dimensions, in order
  for (int d = 0; d < rank; ++d)
    if (reduced[d]) inner.push_back(x[d]);
  bool keepdims = c.attrs().flag("keepdims");
  DType t = c.node.type.dtype;
  bool fp = is_float(t);
  llvm::Type* acc_type = fp && kind != Kind::max ? b.getDoubleTy() : L.reg_type(t);
  V start;
  if (kind == Kind::max)
    start = fp ? llvm::ConstantFP::getInfinity(acc_type, true)
               : llvm::ConstantInt::get(acc_type, t == DType::i32 ? uint64_t(int64_t(INT32_MIN))
                                                                  : uint64_t(INT64_MIN));
  else
    start = fp ? llvm::ConstantFP::get(acc_type, 0.0) : llvm::ConstantInt::get(acc_type, 0);
  auto combine = [&](V old, V v) {
    if (kind == Kind::max)
      return b.CreateBinaryIntrinsic(fp ? llvm::Intrinsic::maximum : llvm::Intrinsic::smax, old, v);
    return L.accumulate(old, fp ? b.CreateFPExt(v, acc_type) : v);
  };
  auto finish = [&](V result) {
    if (kind == Kind::mean)
      result = b.CreateFDiv(result, llvm::ConstantFP::get(acc_type, double(num_elements(inner))));
    if (result->getType() != L.reg_type(t)) result = b.CreateFPTrunc(result, L.reg_type(t));
    return result;
  };

  // Over leading axes only (a bias gradient: N, H, W of an NHWC tensor), x is `rows` rows of
  // the `kept` elements of the result: stream the rows and add each into a row of
  // accumulators, so x is read once, in order, and the loop over a row vectorizes. Each result
  // element still sums its terms in row order.
  int leading = 0;
  while (leading < rank && reduced[leading])
    ++leading;
  bool prefix = leading > 0 && leading < rank;
  for (int d = leading; d < rank; ++d)
    prefix &= !reduced[d];
  int64_t kept = c.node.type.num_elements(), rows = num_elements(inner);
  if (prefix && kept <= kRowAccumulators) {
    V accs = L.slot(llvm::ArrayType::get(acc_type, uint64_t(kept)));
    auto acc_at = [&](V j) { return b.CreateInBoundsGEP(acc_type, accs, j); };
    c.loop(kept, [&](V j) { b.CreateStore(start, acc_at(j)); });
    c.loop(rows, [&](V r) {
      V row = b.CreateMul(r, c.i64(kept));
      c.loop(kept, [&](V j) {
        Index at = Index::flat(x, b.CreateAdd(row, j));
        V ptr = acc_at(j);
        b.CreateStore(combine(b.CreateLoad(acc_type, ptr), c.operand_at(0, at)), ptr);
      });
    });
    c.loop(kept, [&](V j) { L.store(c.id, j, finish(b.CreateLoad(acc_type, acc_at(j)))); });
    return;
  }

  V acc = L.slot(acc_type);
  c.for_each(c.node.type.shape, [&](Index& out) {
    const auto& od = out.dims(b);
    b.CreateStore(start, acc);
    c.loop(num_elements(inner), [&](V r) {
      Index red = Index::flat(inner, r);
      const auto& rd = red.dims(b);
      std::vector<V> xd;
      size_t next_out = 0, next_red = 0;
      for (int d = 0; d < rank; ++d) {
        if (reduced[d]) {
          xd.push_back(rd[next_red++]);
          if (keepdims) ++next_out;
        } else {
          xd.push_back(od[next_out++]);
        }
      }
      Index at = Index::dims(x, xd);
      b.CreateStore(combine(b.CreateLoad(acc_type, acc), c.operand_at(0, at)), acc);
    });
    L.store(c.id, out.linear(b), finish(b.CreateLoad(acc_type, acc)));
  });
}

void lower_reduce_sum(const LowerCall& c) { lower_reduce(c, Kind::sum); }
void lower_reduce_mean(const LowerCall& c) { lower_reduce(c, Kind::mean); }
void lower_reduce_max(const LowerCall& c) { lower_reduce(c, Kind::max); }

// For each row along the axis: the first element, then each later one that is larger (or NaN
// when the best so far is not), so the first maximum, or the first NaN, wins.
void lower_argmax(const LowerCall& c) {
  Lowerer& L = c.lowerer;
  auto& b = c.b();
  const TensorType& xt = L.graph().type(c.node.operands[0]);
  Shape x = xt.shape;
  int rank = static_cast<int>(x.size());
  int64_t a = c.attrs().integer("axis");
  int axis = static_cast<int>(a < 0 ? a + rank : a);
  bool fp = is_float(xt.dtype);
  Shape outer = x;
  outer[axis] = 1; // the result's positions, in its row-major order (keepdims or not)
  V best = L.slot(L.reg_type(xt.dtype)), best_at = L.slot(b.getInt64Ty());
  c.for_each(outer, [&](Index& o) {
    std::vector<V> od = o.dims(b);
    auto at = [&](V j) {
      std::vector<V> d = od;
      d[axis] = j;
      return Index::dims(x, d);
    };
    Index first = at(c.i64(0));
    b.CreateStore(c.operand_at(0, first), best);
    b.CreateStore(c.i64(0), best_at);
    L.loop(c.i64(1), c.i64(x[axis]), [&](V j) {
      Index i = at(j);
      V v = c.operand_at(0, i);
      V m = b.CreateLoad(v->getType(), best);
      V better = fp ? b.CreateOr(b.CreateFCmpOGT(v, m),
                                 b.CreateAnd(b.CreateFCmpUNO(v, v), b.CreateFCmpORD(m, m)))
                    : b.CreateICmpSGT(v, m);
      b.CreateStore(b.CreateSelect(better, v, m), best);
      b.CreateStore(b.CreateSelect(better, j, b.CreateLoad(b.getInt64Ty(), best_at)), best_at);
    });
    L.store(c.id, o.linear(b), b.CreateLoad(b.getInt64Ty(), best_at));
  });
}

} // namespace

extern const Lowering argmax_lowering{.lower = lower_argmax};
extern const Lowering reduce_sum_lowering{.lower = lower_reduce_sum};
extern const Lowering reduce_mean_lowering{.lower = lower_reduce_mean};
extern const Lowering reduce_max_lowering{.lower = lower_reduce_max};

} // namespace sj::codegen

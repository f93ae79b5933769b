// Lowering of layer_norm, layer_norm_stats and layer_norm_backprop (graph/ops/norm.cpp): one
// loop over the rows of the last axis, split over the step's thread pool when large (each row on
// one thread, in the same order of operations: the bits do not depend on the thread count), and
// per row a few loops over its C elements, which stay in cache between them:
//   layer_norm:          sum x; sum (x - mean)^2; y = (x - mean) rstd gamma + beta
//   layer_norm_stats:    sum x; sum (x - mean)^2; store (mean, rstd)
//   layer_norm_backprop: sum h and sum h xhat together (h = dy gamma); dx
// Sums and the arithmetic around them are in f64 (f32 operands are extended), so the statistics
// of f32 rows are as accurate as the interpreter's; the sums may be reassociated so the loops
// vectorize. No libm call: rstd is 1 / llvm.sqrt.
#include "codegen/lowerer.h"

namespace sj::codegen {

namespace {

using V = llvm::Value*;

enum class Kind { forward, stats, backprop };

void lower_norm(const LowerCall& c, Kind kind) {
  Lowerer& L = c.lowerer;
  auto& b = c.b();
  const Graph& g = L.graph();
  const Shape x = g.type(c.node.operands[0]).shape;
  int64_t n = x.back();
  if (num_elements(x) == 0) return;
  int64_t rows = num_elements(x) / n;
  DType t = c.node.type.dtype;
  llvm::Type* rt = L.reg_type(t);
  llvm::Type* dt = b.getDoubleTy();
  auto f64 = [&](double v) { return llvm::ConstantFP::get(dt, v); };
  auto ext = [&](V v) { return v->getType() == dt ? v : b.CreateFPExt(v, dt); };
  auto to_result = [&](V v) { return rt == dt ? v : b.CreateFPTrunc(v, rt); };
  const Shape stats = [&] {
    Shape s = x;
    s.back() = 2;
    return s;
  }();
  double eps = kind == Kind::backprop ? 0.0 : c.attrs().real("epsilon");

  c.parallel_rows(rows, [&](V r) {
    // Stack slots inside the body: the rows may run in a function of their own.
    V acc = L.slot(dt), acc2 = L.slot(dt);
    V first = b.CreateMul(r, c.i64(n));
    auto at = [&](size_t operand, V k) {
      Index i = Index::flat(x, b.CreateAdd(first, k));
      return ext(c.operand_at(operand, i));
    };
    auto feature = [&](size_t operand, V k) {
      Index i = Index::flat(Shape{n}, k);
      return ext(c.operand_at(operand, i));
    };
    auto sum = [&](V slot, const std::function<V(V)>& term) {
      b.CreateStore(f64(0), slot);
      c.loop(n, [&](V k) { b.CreateStore(L.accumulate(b.CreateLoad(dt, slot), term(k)), slot); });
      return b.CreateLoad(dt, slot);
    };
    V mean, rstd;
    if (kind == Kind::backprop) {
      Index m = Index::flat(stats, b.CreateMul(r, c.i64(2)));
      mean = ext(c.operand_at(3, m));
      Index s = Index::flat(stats, b.CreateAdd(b.CreateMul(r, c.i64(2)), c.i64(1)));
      rstd = ext(c.operand_at(3, s));
    } else {
      mean = b.CreateFDiv(sum(acc, [&](V k) { return at(0, k); }), f64(double(n)));
      V var = b.CreateFDiv(sum(acc2,
                               [&](V k) {
                                 V d = b.CreateFSub(at(0, k), mean);
                                 return b.CreateFMul(d, d);
                               }),
                           f64(double(n)));
      V sd = b.CreateUnaryIntrinsic(llvm::Intrinsic::sqrt, b.CreateFAdd(var, f64(eps)));
      rstd = b.CreateFDiv(f64(1.0), sd);
    }
    switch (kind) {
    case Kind::stats: {
      V out = b.CreateMul(r, c.i64(2));
      L.store(c.id, out, to_result(mean));
      L.store(c.id, b.CreateAdd(out, c.i64(1)), to_result(rstd));
      break;
    }
    case Kind::forward:
      c.loop(n, [&](V k) {
        V xhat = b.CreateFMul(b.CreateFSub(at(0, k), mean), rstd);
        V y = b.CreateFAdd(b.CreateFMul(xhat, feature(1, k)), feature(2, k));
        L.store(c.id, b.CreateAdd(first, k), to_result(y));
      });
      break;
    case Kind::backprop: {
      auto h = [&](V k) { return b.CreateFMul(at(2, k), feature(1, k)); };
      auto xhat = [&](V k) { return b.CreateFMul(b.CreateFSub(at(0, k), mean), rstd); };
      // One loop for both sums.
      b.CreateStore(f64(0), acc);
      b.CreateStore(f64(0), acc2);
      c.loop(n, [&](V k) {
        V hk = h(k);
        b.CreateStore(L.accumulate(b.CreateLoad(dt, acc), hk), acc);
        b.CreateStore(L.accumulate(b.CreateLoad(dt, acc2), b.CreateFMul(hk, xhat(k))), acc2);
      });
      V mean_h = b.CreateFDiv(b.CreateLoad(dt, acc), f64(double(n)));
      V mean_hx = b.CreateFDiv(b.CreateLoad(dt, acc2), f64(double(n)));
      c.loop(n, [&](V k) {
        V d = b.CreateFSub(b.CreateFSub(h(k), mean_h), b.CreateFMul(xhat(k), mean_hx));
        L.store(c.id, b.CreateAdd(first, k), to_result(b.CreateFMul(rstd, d)));
      });
      break;
    }
    }
  });
}

void lower_layer_norm(const LowerCall& c) { lower_norm(c, Kind::forward); }
void lower_layer_norm_stats(const LowerCall& c) { lower_norm(c, Kind::stats); }
void lower_layer_norm_backprop(const LowerCall& c) { lower_norm(c, Kind::backprop); }

} // namespace

extern const Lowering layer_norm_lowering{.lower = lower_layer_norm};
extern const Lowering layer_norm_stats_lowering{.lower = lower_layer_norm_stats};
extern const Lowering layer_norm_backprop_lowering{.lower = lower_layer_norm_backprop};

} // namespace sj::codegen

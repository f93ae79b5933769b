// Lowering of the pooling ops: a loop over every output element and, inside it, over the taps
// of its window; padding taps are skipped (their loads clamped to a safe index and their values
// ignored). The gradients zero their result and add each window's share into it, in order. For
// small windows the channels are the innermost loop, vectorized (for_each_tap).
#include "codegen/lowerer.h"
#include "graph/ops/window.h"

namespace sj::codegen {

namespace {

using V = llvm::Value*;

// The number of real taps of output position (oh, ow): per dimension, the taps k in
// [max(0, pad - o s), min(window, in + pad - o s)).
V real_taps(const LowerCall& c, const ops::Window2d& w, V oh, V ow) {
  auto& b = c.b();
  V count = c.i64(1);
  for (int d = 0; d < 2; ++d) {
    V first =
        b.CreateSub(c.i64(w.pad_before[d]), b.CreateMul(d == 0 ? oh : ow, c.i64(w.stride[d])));
    V end = b.CreateAdd(first, c.i64(w.in[d]));
    V lo = b.CreateSelect(b.CreateICmpSGT(first, c.i64(0)), first, c.i64(0));
    V hi = b.CreateSelect(b.CreateICmpSLT(end, c.i64(w.window[d])), end, c.i64(w.window[d]));
    count = b.CreateMul(count, b.CreateSub(hi, lo));
  }
  return count;
}

// One tap of a window: the input index it reads for channel 0 (clamped to 0 for a padding
// tap) and whether it is a real pixel. Both are the same for every channel of the window.
struct Tap {
  V base, inside;
};

// Windows of up to this many taps have their taps unrolled inside the loop over channels.
constexpr int64_t kUnrolledTaps = 16;

// Calls body(o, x_index, inside, k) for every tap k of every output element o of the pooling
// node (o the output's linear index; x_index a safe input index, inside whether the tap is
// real); `start(o, taps)` and `finish(o, window)` run before and after each window's taps,
// `taps` the number of its real taps, `window` its taps' indices at o's channel (only for
// windows of at most kUnrolledTaps taps, else empty). Taps come in order (kh, then kw).
// `setup()` runs first, where the stack slots the callbacks use must be created: the images
// are split over the step's thread pool (LowerCall::parallel_rows; no window spans two
// images), so the loop may be in a function of its own.
//
// For small windows (the common 2x2 and 3x3) the loops are n, oh, ow, then the channels
// innermost with the taps unrolled: NHWC keeps the channels contiguous, and a tap's bounds
// check and base index do not depend on the channel, so the channel loop is straight-line,
// unit-stride code that vectorizes.
void for_each_tap(const LowerCall& c, const std::function<void()>& setup,
                  const std::function<void(V, V)>& start,
                  const std::function<void(V, V, V, int64_t)>& body,
                  const std::function<void(V, const std::vector<Tap>&)>& finish) {
  auto& b = c.b();
  auto [x, w] = ops::pool_geometry(c.lowerer.graph(), c.node);
  int64_t C = x[3];
  auto mul = [&](V v, int64_t k) { return b.CreateMul(v, c.i64(k)); };
  auto add = [&](V u, V v) { return b.CreateAdd(u, v); };
  auto in_range = [&](V i, int64_t size) {
    return b.CreateAnd(b.CreateICmpSGE(i, c.i64(0)), b.CreateICmpSLT(i, c.i64(size)));
  };
  bool unrolled = w.window[0] * w.window[1] <= kUnrolledTaps;
  c.parallel_rows(x[0], [&](V n) {
    setup();
    c.loop(w.out[0], [&](V oh) {
      c.loop(w.out[1], [&](V ow) {
        V o_base = mul(add(mul(add(mul(n, w.out[0]), oh), w.out[1]), ow), C);
        V taps = real_taps(c, w, oh, ow);
        auto tap = [&](V kh, V kw) {
          V ih = add(b.CreateSub(mul(oh, w.stride[0]), c.i64(w.pad_before[0])), kh);
          V iw = add(b.CreateSub(mul(ow, w.stride[1]), c.i64(w.pad_before[1])), kw);
          V inside = b.CreateAnd(in_range(ih, w.in[0]), in_range(iw, w.in[1]));
          V base = mul(add(mul(add(mul(n, w.in[0]), ih), w.in[1]), iw), C);
          return Tap{b.CreateSelect(inside, base, c.i64(0)), inside};
        };
        if (unrolled) {
          std::vector<Tap> window;
          for (int64_t kh = 0; kh < w.window[0]; ++kh)
            for (int64_t kw = 0; kw < w.window[1]; ++kw)
              window.push_back(tap(c.i64(kh), c.i64(kw)));
          c.loop(C, [&](V ch) {
            V o = add(o_base, ch);
            start(o, taps);
            std::vector<Tap> at;
            for (const Tap& t : window)
              at.push_back({add(t.base, ch), t.inside});
            for (size_t k = 0; k < at.size(); ++k)
              body(o, at[k].base, at[k].inside, int64_t(k));
            finish(o, at);
          });
          return;
        }
        c.loop(C, [&](V ch) {
          V o = add(o_base, ch);
          start(o, taps);
          c.loop(w.window[0], [&](V kh) {
            c.loop(w.window[1], [&](V kw) {
              Tap t = tap(kh, kw);
              body(o, add(t.base, ch), t.inside, -1);
            });
          });
          finish(o, {});
        });
      });
    });
  });
}

V element(const LowerCall& c, size_t operand, const Shape& shape, V index) {
  Index at = Index::flat(shape, index);
  return c.operand_at(operand, at);
}

const Shape& operand_shape(const LowerCall& c, size_t i) {
  return c.lowerer.graph().type(c.node.operands[i]).shape;
}

V is_nan(llvm::IRBuilder<>& b, V v) { return b.CreateFCmpUNO(v, v); }

void zero_result(const LowerCall& c) {
  DType dt = c.node.type.dtype;
  c.b().CreateMemSet(c.result(), c.b().getInt8(0), c.i64(int64_t(c.node.type.byte_size())),
                     llvm::MaybeAlign(dtype_size(dt)));
}

// result[i] += v
void add_into(const LowerCall& c, V i, V v) {
  auto& b = c.b();
  llvm::Type* t = v->getType();
  V ptr = b.CreateInBoundsGEP(t, c.result(), i);
  b.CreateStore(b.CreateFAdd(b.CreateLoad(t, ptr), v), ptr);
}

void lower_max_pool2d(const LowerCall& c) {
  Lowerer& L = c.lowerer;
  auto& b = c.b();
  DType dt = c.node.type.dtype;
  llvm::Type* t = L.reg_type(dt);
  V best = nullptr;
  const Shape& x = operand_shape(c, 0);
  V lowest =
      is_float(dt)
          ? llvm::ConstantFP::getInfinity(t, true)
          : llvm::ConstantInt::get(t, llvm::APInt::getSignedMinValue(t->getIntegerBitWidth()));
  for_each_tap(
      c, [&] { best = L.slot(t); }, [&](V, V) { b.CreateStore(lowest, best); },
      [&](V, V i, V inside, int64_t) {
        V v = element(c, 0, x, i), m = b.CreateLoad(t, best);
        // NaN propagates and -0 < +0, as the interpreter's maximum_of.
        V bigger = is_float(dt) ? b.CreateBinaryIntrinsic(llvm::Intrinsic::maximum, m, v)
                                : b.CreateSelect(b.CreateICmpSGT(v, m), v, m);
        b.CreateStore(b.CreateSelect(inside, bigger, m), best);
      },
      [&](V o, const std::vector<Tap>&) { L.store(c.id, o, b.CreateLoad(t, best)); });
}

// dy[o] goes to the first tap holding its window's maximum (a NaN, if there is one). For small
// windows each tap of the window gets dy[o] or 0 (stored directly when the windows tile the
// input: no overlap, no padding; else added, and adding 0 to the +0-started sums changes no
// bit), so the channel loop has no scatter; otherwise dy[o] is added at the maximum's index.
void lower_max_pool2d_backprop(const LowerCall& c) {
  Lowerer& L = c.lowerer;
  auto& b = c.b();
  llvm::Type* t = L.reg_type(c.node.type.dtype);
  V best = nullptr, at = nullptr, which = nullptr, have = nullptr;
  auto [x, w] = ops::pool_geometry(L.graph(), c.node);
  bool tiles = true;
  for (int d = 0; d < 2; ++d)
    tiles &= w.stride[d] == w.window[d] && w.pad_before[d] == 0 && w.pad_after[d] == 0 &&
             w.out[d] * w.stride[d] == w.in[d];
  bool unrolled = w.window[0] * w.window[1] <= kUnrolledTaps;
  if (!(tiles && unrolled)) zero_result(c);
  for_each_tap(
      c,
      [&] {
        best = L.slot(t), at = L.slot(b.getInt64Ty()), which = L.slot(b.getInt64Ty());
        have = L.slot(b.getInt1Ty());
      },
      [&](V, V) {
        b.CreateStore(b.getFalse(), have);
        b.CreateStore(llvm::ConstantFP::get(t, 0.0), best);
        b.CreateStore(c.i64(0), at);
        b.CreateStore(c.i64(-1), which);
      },
      [&](V, V i, V inside, int64_t k) {
        V v = element(c, 0, x, i), m = b.CreateLoad(t, best);
        V better =
            b.CreateAnd(b.CreateNot(is_nan(b, m)), b.CreateOr(is_nan(b, v), b.CreateFCmpOGT(v, m)));
        V take =
            b.CreateAnd(inside, b.CreateOr(b.CreateNot(b.CreateLoad(b.getInt1Ty(), have)), better));
        b.CreateStore(b.CreateSelect(take, v, m), best);
        b.CreateStore(b.CreateSelect(take, i, b.CreateLoad(b.getInt64Ty(), at)), at);
        b.CreateStore(b.CreateSelect(take, c.i64(k), b.CreateLoad(b.getInt64Ty(), which)), which);
        b.CreateStore(b.CreateOr(take, b.CreateLoad(b.getInt1Ty(), have)), have);
      },
      [&](V o, const std::vector<Tap>& window) {
        V dy = element(c, 1, operand_shape(c, 1), o);
        if (window.empty()) return add_into(c, b.CreateLoad(b.getInt64Ty(), at), dy);
        V chosen = b.CreateLoad(b.getInt64Ty(), which);
        V zero = llvm::ConstantFP::get(t, 0.0);
        for (size_t k = 0; k < window.size(); ++k) {
          V share = b.CreateSelect(b.CreateICmpEQ(chosen, c.i64(int64_t(k))), dy, zero);
          V ptr = b.CreateInBoundsGEP(t, c.result(), window[k].base);
          if (tiles) {
            b.CreateStore(share, ptr);
          } else {
            // A padding tap's clamped index is only read back.
            V old = b.CreateLoad(t, ptr);
            b.CreateStore(b.CreateSelect(window[k].inside, b.CreateFAdd(old, share), old), ptr);
          }
        }
      });
}

// Calls body(k) for k in [0, count): unrolled (k a constant) when `unroll`, else a loop.
void repeat(Lowerer& L, int64_t count, bool unroll, const std::function<void(V)>& body) {
  if (!unroll) return L.loop(L.i64(0), L.i64(count), body);
  for (int64_t k = 0; k < count; ++k)
    body(L.i64(k));
}

// Candidate windows, per dimension, up to which the element rule is unrolled (beyond, loops).
constexpr int64_t kUnrolledWindowTaps = 64;

// max_pool2d_backprop's element rule, for when it is fused into its reader (the relu mask's
// select): the gradient of input pixel (n, i, j, ch) is the sum, in output order and from +0,
// of dy over the windows that contain the pixel and whose first maximum (the tie rule above) it
// is, as the interpreter adds them. Along dimension d the windows containing row i are
// o = q - (J - 1) + k for k in [0, J), q = (i + pad) / stride, J = ceil(window / stride), those
// with o in [0, out) and i + pad - o stride < window: for windows that tile the input, the one
// window at i / stride. Each candidate's argmax is computed again (its taps are in cache).
V element_max_pool2d_backprop(const ElementCall& c) {
  Lowerer& L = c.lowerer;
  auto& b = c.b();
  auto [x, w] = ops::pool_geometry(L.graph(), c.node);
  const std::vector<V> at = c.index.dims(b); // n, i, j, ch
  llvm::Type* t = c.type(c.dtype());
  std::array<int64_t, 2> count{};
  for (int d = 0; d < 2; ++d)
    count[d] = (w.window[d] + w.stride[d] - 1) / w.stride[d];
  int64_t taps = w.window[0] * w.window[1];
  bool unroll = count[0] * count[1] * taps <= kUnrolledWindowTaps;
  auto in_range = [&](V v, int64_t size) {
    return b.CreateAnd(b.CreateICmpSGE(v, L.i64(0)), b.CreateICmpSLT(v, L.i64(size)));
  };
  V zero = llvm::ConstantFP::get(t, 0.0);
  // The argmax's tap as i32, so a vector of them is as wide as one of f32 values.
  llvm::Type* i32 = b.getInt32Ty();
  V sum = L.slot(t), best = L.slot(t), which = L.slot(i32), have = L.slot(b.getInt1Ty());
  b.CreateStore(zero, sum);
  // The candidate window's output index along d, whether it contains the pixel, and the pixel's
  // tap in it.
  auto candidate = [&](int d, V k, V& o, V& valid, V& tap) {
    V shifted = b.CreateAdd(at[1 + d], L.i64(w.pad_before[d]));
    o = b.CreateAdd(b.CreateSub(b.CreateUDiv(shifted, L.i64(w.stride[d])), L.i64(count[d] - 1)), k);
    tap = b.CreateSub(shifted, b.CreateMul(o, L.i64(w.stride[d])));
    valid = b.CreateAnd(in_range(o, w.out[d]), b.CreateICmpSLT(tap, L.i64(w.window[d])));
    o = b.CreateSelect(valid, o, L.i64(0));
  };
  repeat(L, count[0], unroll, [&](V kh) {
    V oh, valid_h, tap_h;
    candidate(0, kh, oh, valid_h, tap_h);
    repeat(L, count[1], unroll, [&](V kw) {
      V ow, valid_w, tap_w;
      candidate(1, kw, ow, valid_w, tap_w);
      b.CreateStore(b.getFalse(), have);
      b.CreateStore(zero, best);
      b.CreateStore(b.getInt32(-1), which);
      repeat(L, taps, unroll, [&](V k) {
        V th = b.CreateUDiv(k, L.i64(w.window[1])), tw = b.CreateURem(k, L.i64(w.window[1]));
        V ih = b.CreateAdd(b.CreateSub(b.CreateMul(oh, L.i64(w.stride[0])), L.i64(w.pad_before[0])),
                           th);
        V iw = b.CreateAdd(b.CreateSub(b.CreateMul(ow, L.i64(w.stride[1])), L.i64(w.pad_before[1])),
                           tw);
        V inside = b.CreateAnd(in_range(ih, w.in[0]), in_range(iw, w.in[1]));
        Index xi = Index::dims(x, {at[0], b.CreateSelect(inside, ih, L.i64(0)),
                                   b.CreateSelect(inside, iw, L.i64(0)), at[3]});
        V v = c.operand_at(0, xi), m = b.CreateLoad(t, best);
        V better =
            b.CreateAnd(b.CreateNot(is_nan(b, m)), b.CreateOr(is_nan(b, v), b.CreateFCmpOGT(v, m)));
        V had = b.CreateLoad(b.getInt1Ty(), have);
        V take = b.CreateAnd(inside, b.CreateOr(b.CreateNot(had), better));
        b.CreateStore(b.CreateSelect(take, v, m), best);
        b.CreateStore(b.CreateSelect(take, b.CreateTrunc(k, i32), b.CreateLoad(i32, which)), which);
        b.CreateStore(b.CreateOr(take, had), have);
      });
      V mine = b.CreateTrunc(b.CreateAdd(b.CreateMul(tap_h, L.i64(w.window[1])), tap_w), i32);
      V chosen = b.CreateAnd(b.CreateAnd(valid_h, valid_w),
                             b.CreateICmpEQ(b.CreateLoad(i32, which), mine));
      const Shape& dy_shape = L.graph().type(c.node.operands[1]).shape;
      Index dyi = Index::dims(dy_shape, {at[0], oh, ow, at[3]});
      V dy = c.operand_at(1, dyi);
      V s = b.CreateLoad(t, sum);
      b.CreateStore(b.CreateSelect(chosen, b.CreateFAdd(s, dy), s), sum);
    });
  });
  return b.CreateLoad(t, sum);
}

// The mean over the window's real taps, summed in f64.
void lower_avg_pool2d(const LowerCall& c) {
  Lowerer& L = c.lowerer;
  auto& b = c.b();
  llvm::Type* d = b.getDoubleTy();
  V sum = nullptr, count = nullptr;
  const Shape& x = operand_shape(c, 0);
  for_each_tap(
      c, [&] { sum = L.slot(d), count = L.slot(d); },
      [&](V, V taps) {
        b.CreateStore(llvm::ConstantFP::get(d, 0.0), sum);
        b.CreateStore(b.CreateSIToFP(taps, d), count);
      },
      [&](V, V i, V inside, int64_t) {
        V v = b.CreateFPExt(element(c, 0, x, i), d);
        V s = b.CreateLoad(d, sum);
        b.CreateStore(b.CreateSelect(inside, L.accumulate(s, v), s), sum);
      },
      [&](V o, const std::vector<Tap>&) {
        V mean = b.CreateFDiv(b.CreateLoad(d, sum), b.CreateLoad(d, count));
        L.store(c.id, o, b.CreateFPCast(mean, L.reg_type(c.node.type.dtype)));
      });
}

// Each dy[o] / (real taps of o) added to every real tap of o's window.
void lower_avg_pool2d_backprop(const LowerCall& c) {
  Lowerer& L = c.lowerer;
  auto& b = c.b();
  llvm::Type* t = L.reg_type(c.node.type.dtype);
  zero_result(c);
  const Shape& dy = operand_shape(c, 0);
  V share = nullptr;
  for_each_tap(
      c, [&] { share = L.slot(t); },
      [&](V o, V taps) {
        b.CreateStore(b.CreateFDiv(element(c, 0, dy, o), b.CreateSIToFP(taps, t)), share);
      },
      [&](V, V i, V inside, int64_t) {
        V s = b.CreateLoad(t, share);
        // A padding tap adds nothing (and its clamped index is only read back).
        V ptr = b.CreateInBoundsGEP(t, c.result(), i);
        V old = b.CreateLoad(t, ptr);
        b.CreateStore(b.CreateSelect(inside, b.CreateFAdd(old, s), old), ptr);
      },
      [&](V, const std::vector<Tap>&) {});
}

} // namespace

extern const Lowering max_pool2d_lowering{.lower = lower_max_pool2d};
// The element rule when fused into its reader, the whole-buffer rule when stored.
extern const Lowering max_pool2d_backprop_lowering{.element = element_max_pool2d_backprop,
                                                   .lower = lower_max_pool2d_backprop};
extern const Lowering avg_pool2d_lowering{.lower = lower_avg_pool2d};
extern const Lowering avg_pool2d_backprop_lowering{.lower = lower_avg_pool2d_backprop};

} // namespace sj::codegen

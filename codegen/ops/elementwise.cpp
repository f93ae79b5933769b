// Element rules of the elementwise ops. Floats follow IEEE (no fast-math): results match the
// interpreter's to within the math library's rounding.
#include "codegen/lowerer.h"
#include "codegen/vector_math.h"

#include <cmath>
#include <llvm/IR/Intrinsics.h>
#include <numbers>

namespace sj::codegen {

namespace {

using V = llvm::Value*;

bool is_fp(const ElementCall& c) { return is_float(c.dtype()); }

V constant(const ElementCall& c, double v) {
  llvm::Type* t = c.type(c.dtype());
  return t->isFloatingPointTy() ? llvm::ConstantFP::get(t, v)
                                : llvm::ConstantInt::get(t, static_cast<uint64_t>(int64_t(v)));
}

V intrinsic(const ElementCall& c, llvm::Intrinsic::ID id, std::vector<V> args) {
  return c.b().CreateIntrinsic(id, {args[0]->getType()}, args);
}

// A C math function of the element's type: `name` for double, `name` + "f" for float.
V libm(const ElementCall& c, const std::string& name, std::vector<V> args) {
  bool f32 = c.dtype() == DType::f32;
  auto fn = c.lowerer.math(f32 ? name + "f" : name, c.type(c.dtype()), int(args.size()));
  return c.b().CreateCall(fn, args);
}

V x0(const ElementCall& c) { return c.operand(0); }

V lower_neg(const ElementCall& c) {
  return is_fp(c) ? c.b().CreateFNeg(x0(c)) : c.b().CreateNeg(x0(c));
}
V lower_abs(const ElementCall& c) {
  return is_fp(c) ? intrinsic(c, llvm::Intrinsic::fabs, {x0(c)})
                  : intrinsic(c, llvm::Intrinsic::abs, {x0(c), c.b().getFalse()});
}
V lower_exp(const ElementCall& c) { return emit_exp(c.b(), x0(c)); }
V lower_log(const ElementCall& c) { return intrinsic(c, llvm::Intrinsic::log, {x0(c)}); }
V lower_sqrt(const ElementCall& c) { return intrinsic(c, llvm::Intrinsic::sqrt, {x0(c)}); }
V lower_rsqrt(const ElementCall& c) {
  return c.b().CreateFDiv(constant(c, 1), intrinsic(c, llvm::Intrinsic::sqrt, {x0(c)}));
}
V lower_square(const ElementCall& c) {
  V x = x0(c);
  return is_fp(c) ? c.b().CreateFMul(x, x) : c.b().CreateMul(x, x);
}
V lower_relu(const ElementCall& c) {
  V x = x0(c);
  if (!is_fp(c))
    return c.b().CreateSelect(c.b().CreateICmpSGT(x, constant(c, 0)), x, constant(c, 0));
  // x > 0 ? x : 0, except that a NaN stays NaN (as in the interpreter).
  V keep = c.b().CreateFCmpUGT(x, constant(c, 0));
  return c.b().CreateSelect(keep, x, constant(c, 0));
}
V lower_sigmoid(const ElementCall& c) {
  // e = exp(-|x|) <= 1: 1 / (1 + e) for x >= 0, e / (1 + e) otherwise (no overflow).
  auto& b = c.b();
  V x = x0(c);
  V e = emit_exp(b, b.CreateFNeg(intrinsic(c, llvm::Intrinsic::fabs, {x})));
  V denom = b.CreateFAdd(constant(c, 1), e);
  return b.CreateSelect(b.CreateFCmpOGE(x, constant(c, 0)), b.CreateFDiv(constant(c, 1), denom),
                        b.CreateFDiv(e, denom));
}
V lower_tanh(const ElementCall& c) {
  // f64 keeps the C library: its series would need twice the terms, and f64 is for checking.
  return c.dtype() == DType::f32 ? emit_tanh_f32(c.b(), x0(c)) : libm(c, "tanh", {x0(c)});
}
V lower_gelu(const ElementCall& c) {
  // In f64 for f32 too: erfc's argument, and e^-2u below, amplify the relative error of their
  // argument (the interpreter computes in f64 and rounds once).
  auto& b = c.b();
  llvm::Type* dt = b.getDoubleTy();
  V x = b.CreateFPExt(x0(c), dt);
  auto k = [&](double v) { return llvm::ConstantFP::get(dt, v); };
  V y;
  if (c.attrs().flag("approximate")) {
    // x/2 (1 + tanh u) = x sigmoid(2u) = x / (1 + e^-2u): no cancellation for negative x.
    V x3 = b.CreateFMul(b.CreateFMul(x, x), x);
    V u = b.CreateFMul(k(std::sqrt(2 / std::numbers::pi)),
                       b.CreateFAdd(x, b.CreateFMul(k(0.044715), x3)));
    V e = emit_exp(b, b.CreateFMul(k(-2), u));
    y = b.CreateFDiv(x, b.CreateFAdd(k(1), e));
  } else {
    V erfc =
        b.CreateCall(c.lowerer.math("erfc", dt), {b.CreateFMul(x, k(-1 / std::numbers::sqrt2))});
    y = b.CreateFMul(b.CreateFMul(k(0.5), x), erfc);
  }
  return b.CreateFPCast(y, c.type(c.dtype()));
}
V lower_softplus(const ElementCall& c) {
  auto& b = c.b();
  V x = x0(c);
  V e = emit_exp(b, b.CreateFNeg(intrinsic(c, llvm::Intrinsic::fabs, {x})));
  return b.CreateFAdd(intrinsic(c, llvm::Intrinsic::maxnum, {x, constant(c, 0)}),
                      libm(c, "log1p", {e}));
}
V lower_erf(const ElementCall& c) { return libm(c, "erf", {x0(c)}); }
V lower_sin(const ElementCall& c) { return intrinsic(c, llvm::Intrinsic::sin, {x0(c)}); }
V lower_cos(const ElementCall& c) { return intrinsic(c, llvm::Intrinsic::cos, {x0(c)}); }
V lower_stop_gradient(const ElementCall& c) { return x0(c); }

V lower_add(const ElementCall& c) {
  return is_fp(c) ? c.b().CreateFAdd(c.operand(0), c.operand(1))
                  : c.b().CreateAdd(c.operand(0), c.operand(1));
}
V lower_sub(const ElementCall& c) {
  return is_fp(c) ? c.b().CreateFSub(c.operand(0), c.operand(1))
                  : c.b().CreateSub(c.operand(0), c.operand(1));
}
V lower_mul(const ElementCall& c) {
  return is_fp(c) ? c.b().CreateFMul(c.operand(0), c.operand(1))
                  : c.b().CreateMul(c.operand(0), c.operand(1));
}
V lower_div(const ElementCall& c) { return c.b().CreateFDiv(c.operand(0), c.operand(1)); }
V lower_maximum(const ElementCall& c) {
  return intrinsic(c, is_fp(c) ? llvm::Intrinsic::maximum : llvm::Intrinsic::smax,
                   {c.operand(0), c.operand(1)});
}
V lower_minimum(const ElementCall& c) {
  return intrinsic(c, is_fp(c) ? llvm::Intrinsic::minimum : llvm::Intrinsic::smin,
                   {c.operand(0), c.operand(1)});
}
V lower_pow(const ElementCall& c) { return libm(c, "pow", {c.operand(0), c.operand(1)}); }

V compare(const ElementCall& c, llvm::CmpInst::Predicate fp, llvm::CmpInst::Predicate in) {
  V a = c.operand(0), b = c.operand(1);
  return is_float(c.operand_dtype(0)) ? c.b().CreateFCmp(fp, a, b) : c.b().CreateICmp(in, a, b);
}
V lower_greater(const ElementCall& c) {
  return compare(c, llvm::CmpInst::FCMP_OGT, llvm::CmpInst::ICMP_SGT);
}
V lower_greater_equal(const ElementCall& c) {
  return compare(c, llvm::CmpInst::FCMP_OGE, llvm::CmpInst::ICMP_SGE);
}
V lower_less(const ElementCall& c) {
  return compare(c, llvm::CmpInst::FCMP_OLT, llvm::CmpInst::ICMP_SLT);
}
V lower_equal(const ElementCall& c) {
  return compare(c, llvm::CmpInst::FCMP_OEQ, llvm::CmpInst::ICMP_EQ);
}
V lower_select(const ElementCall& c) {
  return c.b().CreateSelect(c.operand(0), c.operand(1), c.operand(2));
}

V lower_cast(const ElementCall& c) {
  auto& b = c.b();
  DType from = c.operand_dtype(0), to = c.dtype();
  V x = c.operand(0);
  llvm::Type* t = c.type(to);
  if (from == to) return x;
  if (to == DType::boolean)
    return is_float(from) ? b.CreateFCmpUNE(x, llvm::ConstantFP::get(x->getType(), 0))
                          : b.CreateICmpNE(x, llvm::ConstantInt::get(x->getType(), 0));
  if (from == DType::boolean) return is_float(to) ? b.CreateUIToFP(x, t) : b.CreateZExt(x, t);
  if (is_float(from) && is_float(to)) return b.CreateFPCast(x, t);
  if (is_float(from)) // truncates toward zero, saturates, NaN gives 0: as the interpreter
    return b.CreateIntrinsic(llvm::Intrinsic::fptosi_sat, {t, x->getType()}, {x});
  if (is_float(to)) return b.CreateSIToFP(x, t);
  return b.CreateSExtOrTrunc(x, t);
}

} // namespace

// The rows of the lowering table for this family (collected in codegen/ops/table.cpp).
#define SJ_ELEMENT(op) extern const Lowering op##_lowering{.element = lower_##op};
SJ_ELEMENT(neg)
SJ_ELEMENT(abs)
SJ_ELEMENT(exp)
SJ_ELEMENT(log)
SJ_ELEMENT(sqrt)
SJ_ELEMENT(rsqrt)
SJ_ELEMENT(square)
SJ_ELEMENT(relu)
SJ_ELEMENT(sigmoid)
SJ_ELEMENT(tanh)
SJ_ELEMENT(gelu)
SJ_ELEMENT(softplus)
SJ_ELEMENT(erf)
SJ_ELEMENT(sin)
SJ_ELEMENT(cos)
SJ_ELEMENT(stop_gradient)
SJ_ELEMENT(add)
SJ_ELEMENT(sub)
SJ_ELEMENT(mul)
SJ_ELEMENT(div)
SJ_ELEMENT(maximum)
SJ_ELEMENT(minimum)
SJ_ELEMENT(pow)
SJ_ELEMENT(greater)
SJ_ELEMENT(greater_equal)
SJ_ELEMENT(less)
SJ_ELEMENT(equal)
SJ_ELEMENT(select)
SJ_ELEMENT(cast)
#undef SJ_ELEMENT

} // namespace sj::codegen

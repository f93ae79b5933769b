#include "codegen/vector_math.h"

#include <array>
#include <llvm/IR/Intrinsics.h>

namespace sj::codegen {

namespace {

using V = llvm::Value*;

// The constants of one floating-point format's exp.
struct ExpFormat {
  int mantissa_bits, exponent_bias;
  double min_x, max_x;   // below: 0; above: inf (after the scaling overflows)
  double ln2_hi, ln2_lo; // ln 2 = hi + lo, hi with enough low zero bits that n * hi is exact
  int degree;            // of the Taylor polynomial of e^r on |r| <= ln2 / 2
};

// f32: n * hi is exact for |n| < 2^15; the Taylor remainder r^8 / 8! is 0.09 ulp at ln2 / 2.
constexpr ExpFormat kF32{23, 127, -104.0, 89.0, 0.693359375, -2.12194440e-4, 7};
// f64 (fdlibm's split: hi has 32 low zero bits); the remainder r^14 / 14! is 0.05 ulp.
constexpr ExpFormat kF64{
    52, 1023, -746.0, 710.0, 6.93147180369123816490e-01, 1.90821492927058770002e-10, 13};

V fma(llvm::IRBuilder<>& b, V x, V y, V z) {
  return b.CreateIntrinsic(llvm::Intrinsic::fma, {x->getType()}, {x, y, z});
}

// 2^k for an integer k of the format's width whose biased exponent is normal.
V power_of_two(llvm::IRBuilder<>& b, V k, const ExpFormat& f, llvm::Type* float_type) {
  V biased = b.CreateAdd(k, llvm::ConstantInt::get(k->getType(), f.exponent_bias));
  return b.CreateBitCast(b.CreateShl(biased, f.mantissa_bits), float_type);
}

} // namespace

V emit_exp(llvm::IRBuilder<>& b, V x) {
  llvm::Type* t = x->getType();
  const ExpFormat& f = t->isFloatTy() ? kF32 : kF64;
  llvm::Type* int_type = b.getIntNTy(t->getPrimitiveSizeInBits());
  auto k = [&](double v) { return llvm::ConstantFP::get(t, v); };
  // e^x = 2^n e^r with n = round(x / ln 2), r = x - n ln 2 (Cody and Waite's two-step reduction).
  // The clamp keeps n in range; the NaN it would hide is restored at the end.
  V clamped = b.CreateIntrinsic(
      llvm::Intrinsic::minnum, {t},
      {b.CreateIntrinsic(llvm::Intrinsic::maxnum, {t}, {x, k(f.min_x)}), k(f.max_x)});
  V n = b.CreateUnaryIntrinsic(llvm::Intrinsic::roundeven,
                               b.CreateFMul(clamped, k(1.4426950408889634)));
  V r = fma(b, b.CreateFNeg(n), k(f.ln2_hi), clamped);
  r = fma(b, b.CreateFNeg(n), k(f.ln2_lo), r);
  // Horner from the top coefficient 1 / degree! down to 1.
  double inverse_factorial = 1;
  std::array<double, 16> coefficient{};
  for (int i = 0; i <= f.degree; ++i) {
    coefficient[i] = inverse_factorial;
    inverse_factorial /= i + 1;
  }
  V p = k(coefficient[f.degree]);
  for (int i = f.degree - 1; i >= 0; --i)
    p = fma(b, p, r, k(coefficient[i]));
  // 2^n as two halves, so that neither overflows nor is subnormal: the products round once
  // each into the result's range, giving inf above the largest float and gradual underflow.
  V ni = b.CreateFPToSI(n, int_type);
  V half = b.CreateAShr(ni, 1);
  V y = b.CreateFMul(b.CreateFMul(p, power_of_two(b, half, f, t)),
                     power_of_two(b, b.CreateSub(ni, half), f, t));
  return b.CreateSelect(b.CreateFCmpUNO(x, x), x, y);
}

V emit_tanh_f32(llvm::IRBuilder<>& b, V x) {
  llvm::Type* t = x->getType();
  auto k = [&](double v) { return llvm::ConstantFP::get(t, v); };
  V a = b.CreateUnaryIntrinsic(llvm::Intrinsic::fabs, x);
  // Near 0, the Taylor series to a^17: the first omitted term is 5.5e-9 of tanh at 0.55.
  constexpr std::array<double, 9> kTaylor = {1.0,
                                             -1.0 / 3,
                                             2.0 / 15,
                                             -17.0 / 315,
                                             62.0 / 2835,
                                             -1382.0 / 155925,
                                             21844.0 / 6081075,
                                             -929569.0 / 638512875,
                                             6404582.0 / 10854718875};
  V z = b.CreateFMul(a, a);
  V p = k(kTaylor[8]);
  for (int i = 7; i >= 1; --i)
    p = fma(b, p, z, k(kTaylor[i]));
  V small = fma(b, b.CreateFMul(a, z), p, a);
  // Elsewhere 1 - 2 / (e^2a + 1): tanh >= 0.5 there, so the subtraction loses nothing; e^2a
  // overflowing to inf gives 1.
  V e = emit_exp(b, b.CreateFMul(a, k(2)));
  V large = b.CreateFSub(k(1), b.CreateFDiv(k(2), b.CreateFAdd(e, k(1))));
  V magnitude = b.CreateSelect(b.CreateFCmpOLT(a, k(0.55)), small, large);
  return b.CreateIntrinsic(llvm::Intrinsic::copysign, {t}, {magnitude, x});
}

} // namespace sj::codegen

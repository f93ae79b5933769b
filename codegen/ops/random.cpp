// Lowering of random_uniform: the integer hash of graph/ops/random.cpp (random_bits of
// graph/initializers.h) in IR instructions, so compiled numbers equal the interpreter's bit for
// bit. The seed's part is constant and the counter's is the same for every element: LLVM folds
// and hoists them, leaving one mix pair per element.
#include "codegen/lowerer.h"

namespace sj::codegen {

namespace {

using V = llvm::Value*;

// SplitMix64's finalizer, as in graph/initializers.cpp.
V mix64(llvm::IRBuilder<>& b, V z) {
  z = b.CreateMul(b.CreateXor(z, b.CreateLShr(z, 30)), b.getInt64(0xbf58476d1ce4e5b9ULL));
  z = b.CreateMul(b.CreateXor(z, b.CreateLShr(z, 27)), b.getInt64(0x94d049bb133111ebULL));
  return b.CreateXor(z, b.CreateLShr(z, 31));
}

// random_bits(seed, counter) = mix(mix(seed + golden) ^ counter).
V random_bits(llvm::IRBuilder<>& b, V seed, V counter) {
  return mix64(
      b, b.CreateXor(mix64(b, b.CreateAdd(seed, b.getInt64(0x9e3779b97f4a7c15ULL))), counter));
}

V lower_random_uniform(const ElementCall& c) {
  auto& b = c.b();
  V seed = b.getInt64(static_cast<uint64_t>(c.attrs().integer("seed")));
  V key = random_bits(b, seed, c.operand(0));
  V bits = random_bits(b, key, c.index.linear(b));
  // The top 24 (f32) or 53 (f64) bits, exact in the dtype, scaled to [0, 1) exactly.
  bool f32 = c.dtype() == DType::f32;
  llvm::Type* t = c.type(c.dtype());
  V top = b.CreateLShr(bits, f32 ? 40 : 11);
  return b.CreateFMul(b.CreateUIToFP(top, t),
                      llvm::ConstantFP::get(t, f32 ? 0x1.0p-24 : 0x1.0p-53));
}

} // namespace

extern const Lowering random_uniform_lowering{.element = lower_random_uniform};

} // namespace sj::codegen

// Elementary functions built from IEEE arithmetic alone (fma, rounding, integer bit operations),
// for the element rules. A C library call in a loop keeps LLVM's loop vectorizer from widening
// it; these are ordinary instructions, so the loop vectorizes, and because the vectorizer widens
// each instruction unchanged, a vector lane and the scalar remainder compute the same bits:
// results do not depend on where a loop is split (vector width, threads).
#pragma once

#include <llvm/IR/IRBuilder.h>

namespace sj::codegen {

/// e^x for an f32 or f64 scalar x (within 2 ulp, 1 measured over a million points; +-inf, NaN,
/// overflow to inf and underflow through the subnormals to 0 as the C library's exp).
llvm::Value* emit_exp(llvm::IRBuilder<>& b, llvm::Value* x);

/// tanh(x) for an f32 scalar x (within 3 ulp, 1 measured; -0, +-inf and NaN as the C library's
/// tanhf).
llvm::Value* emit_tanh_f32(llvm::IRBuilder<>& b, llvm::Value* x);

} // namespace sj::codegen

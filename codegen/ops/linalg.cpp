// Lowering of matmul. f32 calls the packed, register-blocked GEMM of kernels/gemm.h once per
// batch position, on the step's thread pool. Other dtypes get a loop nest: per batch,
// C[m, :] += A[m, k] * B[k, :] in i-k-j order, cache-blocked over (k, n), so the innermost loop
// walks a row of B and of C contiguously and vectorizes, and each C element sums its products
// in k order (no reassociation).
#include "codegen/lowerer.h"
#include "kernels/gemm.h"

#include <cstddef>

namespace sj::codegen {

namespace {

using V = llvm::Value*;

// Batch dims of an operand of shape s, broadcast from the result's batch position bd.
std::vector<V> batch_dims_of(const LowerCall& c, const Shape& s, size_t result_batch,
                             const std::vector<V>& bd) {
  std::vector<V> r;
  size_t nb = s.size() - 2, off = result_batch - nb;
  for (size_t d = 0; d < nb; ++d)
    r.push_back(s[d] == 1 ? c.i64(0) : bd[off + d]);
  return r;
}

// The shapes of a matmul: operands, result, transposes, M x K times K x N, batch dims.
struct MatmulDims {
  Shape a, b, c;
  bool ta, tb;
  int64_t m, n, k;
  Shape batch;
};
MatmulDims matmul_dims(const LowerCall& call) {
  const Graph& g = call.lowerer.graph();
  const Shape& a = g.type(call.node.operands[0]).shape;
  const Shape& c = call.node.type.shape;
  bool ta = call.attrs().flag("transpose_a");
  return {a,
          g.type(call.node.operands[1]).shape,
          c,
          ta,
          call.attrs().flag("transpose_b"),
          c[c.size() - 2],
          c[c.size() - 1],
          ta ? a[a.size() - 2] : a[a.size() - 1],
          Shape(c.begin(), c.end() - 2)};
}

// The matrix of an operand (or the result) at a batch position: its buffer advanced by the
// batch index times the matrix size.
V matrix_at(const LowerCall& c, V buffer, const Shape& s, const std::vector<V>& dims) {
  auto& b = c.b();
  if (s.size() == 2) return buffer;
  Shape batch(s.begin(), s.end() - 2);
  Index at = Index::dims(batch, dims);
  V offset = b.CreateMul(at.linear(b), c.i64(s[s.size() - 2] * s[s.size() - 1]));
  return b.CreateInBoundsGEP(b.getFloatTy(), buffer, offset);
}

void lower_matmul_gemm(const LowerCall& c) {
  Lowerer& L = c.lowerer;
  auto& b = c.b();
  ValueId a_id = c.node.operands[0], b_id = c.node.operands[1];
  auto [as, bs, cs, ta, tb, M, N, K, batch] = matmul_dims(c);

  llvm::Type* word = b.getInt64Ty();
  llvm::Value* args = L.slot(llvm::ArrayType::get(word, sizeof(SjGemmArgs) / 8));
  auto field = [&](size_t offset, V value) {
    b.CreateStore(value, b.CreateConstInBoundsGEP1_64(b.getInt8Ty(), args, offset));
  };
  llvm::FunctionCallee gemm = L.module().getOrInsertFunction(
      "sj_gemm_f32", llvm::FunctionType::get(b.getVoidTy(), {b.getPtrTy()}, false));
  auto [epilogue, epilogue_ctx] = L.gemm_epilogue(c.id); // rank 2 only (passes/fuse)
  c.for_each(batch, [&](Index& bi) {
    std::vector<V> bd = bi.dims(b);
    field(offsetof(SjGemmArgs, m), c.i64(M));
    field(offsetof(SjGemmArgs, n), c.i64(N));
    field(offsetof(SjGemmArgs, k), c.i64(K));
    field(offsetof(SjGemmArgs, a),
          matrix_at(c, L.buffer(a_id), as, batch_dims_of(c, as, batch.size(), bd)));
    field(offsetof(SjGemmArgs, lda), c.i64(as.back()));
    field(offsetof(SjGemmArgs, trans_a), c.i64(ta));
    field(offsetof(SjGemmArgs, b),
          matrix_at(c, L.buffer(b_id), bs, batch_dims_of(c, bs, batch.size(), bd)));
    field(offsetof(SjGemmArgs, ldb), c.i64(bs.back()));
    field(offsetof(SjGemmArgs, trans_b), c.i64(tb));
    field(offsetof(SjGemmArgs, c), matrix_at(c, c.result(), cs, bd));
    field(offsetof(SjGemmArgs, ldc), c.i64(N));
    field(offsetof(SjGemmArgs, accumulate), c.i64(0));
    field(offsetof(SjGemmArgs, epilogue), epilogue);
    field(offsetof(SjGemmArgs, epilogue_ctx), epilogue_ctx);
    field(offsetof(SjGemmArgs, pool), L.pool());
    b.CreateCall(gemm, {args});
  });
}

void lower_matmul(const LowerCall& c) {
  auto [as, bs, cs, ta, tb, M, N, K, batch] = matmul_dims(c);
  // K = 0 (a zero result from empty operands, whose buffers may be null) takes the loop.
  if (c.node.type.dtype == DType::f32 && K > 0) return lower_matmul_gemm(c);
  Lowerer& L = c.lowerer;
  auto& b = c.b();
  llvm::Type* t = L.reg_type(c.node.type.dtype);

  auto batch_of = [&](const Shape& s, const std::vector<V>& bd) {
    return batch_dims_of(c, s, batch.size(), bd);
  };
  // Tiles of B (kKc x kNc) stay in cache while every row of A streams past them; within a
  // tile, C[m, n0:n1] += A[m, k] * B[k, n0:n1] for k in order, so each element of C still sums
  // its products in k order (the blocking changes speed, never results).
  constexpr int64_t kNc = 256, kKc = 128;
  auto min = [&](V a, int64_t b_) {
    return b.CreateSelect(b.CreateICmpSLT(a, c.i64(b_)), a, c.i64(b_));
  };
  c.for_each(batch, [&](Index& bi) {
    std::vector<V> bd = bi.dims(b);
    std::vector<V> ab = batch_of(as, bd), bb = batch_of(bs, bd);
    auto c_at = [&](V m, V n) {
      std::vector<V> cd = bd;
      cd.push_back(m);
      cd.push_back(n);
      Index ci = Index::dims(cs, cd);
      return b.CreateInBoundsGEP(t, L.buffer(c.id), ci.linear(b));
    };
    c.loop(M, [&](V m) {
      c.loop(N, [&](V n) { b.CreateStore(llvm::ConstantFP::get(t, 0.0), c_at(m, n)); });
    });
    c.loop((N + kNc - 1) / kNc, [&](V nb) {
      V n0 = b.CreateMul(nb, c.i64(kNc));
      V n1 = min(b.CreateAdd(n0, c.i64(kNc)), N);
      c.loop((K + kKc - 1) / kKc, [&](V kb) {
        V k0 = b.CreateMul(kb, c.i64(kKc));
        V k1 = min(b.CreateAdd(k0, c.i64(kKc)), K);
        c.loop(M, [&](V m) {
          L.loop(k0, k1, [&](V k) {
            std::vector<V> ad = ab;
            ad.push_back(ta ? k : m);
            ad.push_back(ta ? m : k);
            Index ai = Index::dims(as, ad);
            V a = c.operand_at(0, ai);
            L.loop(n0, n1, [&](V n) {
              std::vector<V> bdx = bb;
              bdx.push_back(tb ? n : k);
              bdx.push_back(tb ? k : n);
              Index bi2 = Index::dims(bs, bdx);
              V ptr = c_at(m, n);
              V sum = b.CreateFAdd(b.CreateLoad(t, ptr), b.CreateFMul(a, c.operand_at(1, bi2)));
              b.CreateStore(sum, ptr);
            });
          });
        });
      });
    });
  });
}

} // namespace

extern const Lowering matmul_lowering{.lower = lower_matmul};

} // namespace sj::codegen

// The f32 GEMM that compiled steps call: C = A·B or C += A·B, row-major, with transpose flags,
// an epilogue callback per finished block of C, and an optional thread pool.
// A GotoBLAS/BLIS design with run-time dispatch over AVX-512, AVX2 and portable micro-kernels;
// see docs/performance.md ("GEMM kernel").
#pragma once

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Called once for every block [m0, m1) x [n0, n1) of C right after its values are final,
/// while it is still in cache. The blocks partition C. With a pool, blocks are handed to the
/// epilogue from several threads at once (always disjoint blocks).
typedef void (*SjGemmEpilogue)(void* ctx, int64_t m0, int64_t m1, int64_t n0, int64_t n1);

/// The arguments of sj_gemm_f32. Every field is 8 bytes (int64_t or a pointer), so field i is
/// at byte offset 8 * i and JIT'd code can build the struct on its stack as 15 words.
/// op(A) is M x K, op(B) is K x N, C is M x N; all row-major with the given row strides
/// (in elements).
typedef struct SjGemmArgs {
  int64_t m;               ///<  0: rows of C and of op(A)
  int64_t n;               ///<  8: columns of C and of op(B)
  int64_t k;               ///< 16: the summed dimension; 0 gives C = 0 (or C unchanged)
  const float* a;          ///< 24: A, M x K (or K x M when trans_a)
  int64_t lda;             ///< 32: A's row stride: >= K (or >= M when trans_a)
  int64_t trans_a;         ///< 40: nonzero: op(A) = A^T, so element (i, p) is a[p*lda + i]
  const float* b;          ///< 48: B, K x N (or N x K when trans_b)
  int64_t ldb;             ///< 56: B's row stride: >= N (or >= K when trans_b)
  int64_t trans_b;         ///< 64: nonzero: op(B) = B^T, so element (p, j) is b[j*ldb + p]
  float* c;                ///< 72: C, M x N; must not overlap A or B
  int64_t ldc;             ///< 80: C's row stride: >= N
  int64_t accumulate;      ///< 88: 0: C = op(A)·op(B); nonzero: C += op(A)·op(B)
  SjGemmEpilogue epilogue; ///< 96: null, or called once per finished block of C
  void* epilogue_ctx;      ///< 104: passed to epilogue
  void* pool;              ///< 112: a sj::ThreadPool*, or null for the calling thread only
} SjGemmArgs;

/// Every element of C is one fused multiply-add chain in k order starting from C (accumulate)
/// or 0 -- on the AVX-512 and AVX2 paths exactly what `for p: c = fma(a[i][p], b[p][j], c)`
/// gives, whatever the blocking, transposes or thread count. The portable path (machines
/// without AVX2+FMA) rounds each product separately.
void sj_gemm_f32(const SjGemmArgs* args);

#ifdef __cplusplus
} // extern "C"

namespace sj {

/// The micro-kernel families of sj_gemm_f32, best first.
enum class GemmPath { avx512, avx2, portable };

/// Whether this machine can run `path` (portable: always).
bool gemm_path_supported(GemmPath path);
/// The path sj_gemm_f32 uses: the best supported one unless forced.
GemmPath gemm_path();
/// Forces a path, for tests and benchmarks; returns false (and changes nothing) when the
/// machine cannot run it. Not to be called while a GEMM is running.
bool force_gemm_path(GemmPath path);
/// Goes back to the best supported path.
void reset_gemm_path();
const char* gemm_path_name(GemmPath path);

/// Packs rows [i0, i0+mc) x steps [p0, p0+kc) of op(A) for the micro-kernel: ceil(mc/mr)
/// slivers, each kc steps of mr consecutive floats (dst[s*mr*kc + p*mr + r] is op(A)(i0 + s*mr
/// + r, p0 + p)), rows past mc zero. `mr` is the micro-kernel's (14, 16, 6 or 4).
using GemmPackA = void (*)(const void* ctx, int64_t i0, int64_t mc, int64_t p0, int64_t kc, int mr,
                           float* dst);
/// sj_gemm_f32 with op(A) produced by `pack_a` (an implicit GEMM, e.g. a convolution's im2col
/// done block by block in kernels/conv.cpp) instead of read through args.a, which is ignored
/// (as are lda and trans_a). Same blocking, threads and bits as sj_gemm_f32. pack_a is called
/// from the pool's threads at once, on disjoint blocks. With `rows`, pack_a writes each sliver
/// row by row instead (dst[s*mr*kc + r*kc + p], rows past mc zero), which the micro-kernel
/// reads as well: no transpose when op(A)'s rows are contiguous in memory.
void gemm_f32_pack_a(const SjGemmArgs& args, GemmPackA pack_a, const void* ctx, bool rows = false);

} // namespace sj
#endif

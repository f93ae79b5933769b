// The register-blocked micro-kernels of sj_gemm_f32 (internal to gemm.cpp).
//
// Each computes one MR x NR tile of C from an MR-high sliver of A and an NR-wide sliver of
// packed B (b[p*NR + j]). A is read as a[p*lda + i] (kRows false: a packed sliver, lda = MR,
// or op(A) = A^T read in place) or as a[i*lda + p] (kRows true: A read in place, row by row,
// when packing would not pay):
//   C[i][j] = (load ? C[i][j] : 0), then for p in order: C[i][j] = fma(a[p][i], b[p][j], C[i][j])
// with the accumulators in vector registers. Only the top-left m x n of the tile is read and
// written (edge tiles; the packed operands are zero-padded to full slivers). `c_next` is the
// tile computed next: its rows are prefetched so loading C never stalls the FMA chains.
//
// Compiled with target attributes, not flags, so the library itself stays generic x86-64 and
// gemm.cpp picks one of these at run time.
#pragma once

#include <cstdint>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace sj::gemm_detail {

using MicroKernel = void (*)(int64_t kc, const float* a, int64_t lda, const float* b, float* c,
                             int64_t ldc, int m, int n, bool load, const float* c_next);

// op(A)(i, p) of a sliver, for either layout.
template <bool kRows>
inline const float* a_at(const float* a, int64_t lda, int i, int64_t p) {
  return kRows ? a + i * lda + p : a + p * lda + i;
}

#if defined(__x86_64__)

// AVX-512: MR rows x NV zmm vectors (NR = 16 * NV). MR * NV accumulators + NV for B must fit
// the 32 zmm registers; A is broadcast straight from memory into the FMA ({1to16}).
template <int MR, int NV, bool kRows>
__attribute__((target("avx512f,avx512vl,fma"))) void
micro_avx512(int64_t kc, const float* __restrict a, int64_t lda, const float* __restrict b,
             float* c, int64_t ldc, int m, int n, bool load, const float* c_next) {
  constexpr int NR = 16 * NV;
  __m512 acc[MR][NV];
  __mmask16 mask[NV];
#pragma GCC unroll 4
  for (int v = 0; v < NV; ++v) {
    int rem = n - 16 * v;
    mask[v] = rem >= 16 ? __mmask16(0xffff) : rem <= 0 ? __mmask16(0) : __mmask16((1u << rem) - 1);
  }
#pragma GCC unroll 32
  for (int i = 0; i < MR; ++i) {
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v)
      acc[i][v] = (load && i < m) ? _mm512_maskz_loadu_ps(mask[v], c + i * ldc + 16 * v)
                                  : _mm512_setzero_ps();
  }
#pragma GCC unroll 32
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v)
      _mm_prefetch(reinterpret_cast<const char*>(c_next + i * ldc + 16 * v), _MM_HINT_T0);

#pragma GCC unroll 2
  for (int64_t p = 0; p < kc; ++p) {
    __m512 bv[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v)
      bv[v] = _mm512_load_ps(b + 16 * v);
#pragma GCC unroll 32
    for (int i = 0; i < MR; ++i) {
      __m512 ai = _mm512_set1_ps(*a_at<kRows>(a, lda, i, p));
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v)
        acc[i][v] = _mm512_fmadd_ps(ai, bv[v], acc[i][v]);
    }
    b += NR;
  }

#pragma GCC unroll 32
  for (int i = 0; i < MR; ++i) {
    if (i >= m) break;
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v)
      _mm512_mask_storeu_ps(c + i * ldc + 16 * v, mask[v], acc[i][v]);
  }
}

// AVX2: MR rows x NV ymm vectors (NR = 8 * NV); 16 ymm registers, so 6 x 16 (12 accumulators).
// Edge columns use vmaskmov; full tiles plain loads and stores (masked stores are slow on AMD).
template <int MR, int NV, bool kRows>
__attribute__((target("avx2,fma"))) void
micro_avx2(int64_t kc, const float* __restrict a, int64_t lda, const float* __restrict b, float* c,
           int64_t ldc, int m, int n, bool load, const float* c_next) {
  constexpr int NR = 8 * NV;
  __m256 acc[MR][NV];
  const bool full = n == NR;
  __m256i mask[NV];
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
#pragma GCC unroll 4
  for (int v = 0; v < NV; ++v)
    mask[v] = _mm256_cmpgt_epi32(_mm256_set1_epi32(n - 8 * v), lane);
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i) {
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) {
      const float* src = c + i * ldc + 8 * v;
      acc[i][v] = !(load && i < m) ? _mm256_setzero_ps()
                  : full           ? _mm256_loadu_ps(src)
                                   : _mm256_maskload_ps(src, mask[v]);
    }
  }
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i)
    _mm_prefetch(reinterpret_cast<const char*>(c_next + i * ldc), _MM_HINT_T0);

  for (int64_t p = 0; p < kc; ++p) {
    __m256 bv[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v)
      bv[v] = _mm256_load_ps(b + 8 * v);
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) {
      __m256 ai = _mm256_broadcast_ss(a_at<kRows>(a, lda, i, p));
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v)
        acc[i][v] = _mm256_fmadd_ps(ai, bv[v], acc[i][v]);
    }
    b += NR;
  }

#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i) {
    if (i >= m) break;
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) {
      float* dst = c + i * ldc + 8 * v;
      if (full)
        _mm256_storeu_ps(dst, acc[i][v]);
      else
        _mm256_maskstore_ps(dst, mask[v], acc[i][v]);
    }
  }
}

#endif // __x86_64__

// Portable: plain loops the compiler vectorizes for the baseline ISA. Products and sums are
// rounded separately (no FMA on such machines), so this path's bits differ from the others.
template <int MR, int NR, bool kRows>
void micro_portable(int64_t kc, const float* __restrict a, int64_t lda, const float* __restrict b,
                    float* c, int64_t ldc, int m, int n, bool load, const float*) {
  float acc[MR][NR] = {};
  if (load)
    for (int i = 0; i < m; ++i)
      for (int j = 0; j < n; ++j)
        acc[i][j] = c[i * ldc + j];
  for (int64_t p = 0; p < kc; ++p, b += NR)
    for (int i = 0; i < MR; ++i)
      for (int j = 0; j < NR; ++j)
        acc[i][j] += *a_at<kRows>(a, lda, i, p) * b[j];
  for (int i = 0; i < m; ++i)
    for (int j = 0; j < n; ++j)
      c[i * ldc + j] = acc[i][j];
}

} // namespace sj::gemm_detail

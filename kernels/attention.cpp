// FlashAttention on the CPU (kernels/attention.h): one forward and one backward driver over
// blocks, written once over a dtype T and a set of primitives P, the portable ones (plain
// loops, for f64 and for f32 on machines without AVX-512) or AVX-512 intrinsics for f32, chosen
// as the GEMM chooses its micro-kernel (kernels/gemm.h: gemm_path()).
//
// Every product is a small matrix product of a query block (kBlockQ rows) and a key block
// (kBlockK keys) through P::gemm, whose micro-kernel keeps a tile of up to 8 rows x 64 columns
// in registers. Each output element of P::gemm is one chain of multiply-adds in the order of
// the inner dimension, whatever the tile, so the bits of a result depend only on the order in
// which blocks are accumulated, never on how rows are grouped into tiles or units.
//
// Forward, per unit (b, h) or (b, h, query block), as the backward below: the keys are packed
// transposed (kt[d][j]) once per unit; per query block and key block (those a causal mask
// hides entirely are skipped), S = Q Kᵀ, then per row the scale and mask, the running maximum
// m and sum l of e^(s - m), the output accumulator rescaled by e^(m_old - m_new), and O += P V
// for the block. At the end O / l and lse = m + log l.
//
// Backward (FlashAttention-2's, recomputing P = e^(S - lse)): per (query block, key block),
// S = Q Kᵀ, dP = dY Vᵀ, dS = P (dP - rowsum(dY Y)) scale, then dV += Pᵀ dY, dK += dSᵀ Q and
// dQ += dS K. With many heads per thread, a unit is one head (every pair once: 5 products);
// otherwise units (b, h, key block) compute dk and dv over every query block in order and units
// (b, h, query block) compute dq over every key block in order (7 products, recomputing S and
// dP in both). Both accumulate every output element over the same blocks in the same order, so
// the bits do not depend on the schedule or the thread count.
#include "kernels/attention.h"

#include "kernels/aligned_buffer.h"
#include "kernels/gemm.h"
#include "kernels/thread_pool.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <immintrin.h>
#include <limits>
#include <utility>

namespace sj {
namespace {

constexpr int64_t kBlockQ = 32; // query rows per block
constexpr int64_t kBlockK = 64; // keys per block: kt, vt and the score tiles stay in L1
constexpr int64_t kLanes = 16;  // floats per AVX-512 vector; score rows are padded to a multiple

template <typename T>
constexpr T kInf = std::numeric_limits<T>::infinity();

template <typename T>
T nan_max(T a, T b) {
  if (a != a) return a;
  if (b != b) return b;
  return a > b ? a : b;
}

// ---- portable primitives -------------------------------------------------------------------

template <typename T>
struct Portable {
  // C[m][n] = (accumulate ? C : 0) + A B, A[r][e] at a[r * rs + e * cs], B[e][j] at
  // b[e * ldb + j], C[r][j] at c[r * ldc + j]; each element summed in e order.
  static void gemm(int64_t m, int64_t n, int64_t k, const T* a, int64_t rs, int64_t cs, const T* b,
                   int64_t ldb, T* c, int64_t ldc, bool accumulate) {
    for (int64_t r = 0; r < m; ++r) {
      T* cr = c + r * ldc;
      if (!accumulate) std::fill(cr, cr + n, T(0));
      for (int64_t e = 0; e < k; ++e) {
        T x = a[r * rs + e * cs];
        const T* br = b + e * ldb;
        for (int64_t j = 0; j < n; ++j)
          cr[j] += x * br[j];
      }
    }
  }
  // s[j] = s[j] * scale + mask[j * stride] for j < nv (no mask: null), -inf for nv <= j < n.
  static void finish_scores(T* s, T scale, const T* mask, int64_t stride, int64_t nv, int64_t n) {
    for (int64_t j = 0; j < nv; ++j)
      s[j] = mask ? s[j] * scale + mask[j * stride] : s[j] * scale;
    std::fill(s + nv, s + n, -kInf<T>);
  }
  // dst[e * ld + j] = src[j * d + e] for j < n, e < d; zero for n <= j < ld.
  static void pack_t(const T* src, int64_t d, int64_t n, int64_t ld, T* dst) {
    for (int64_t e = 0; e < d; ++e)
      std::fill(dst + e * ld + n, dst + (e + 1) * ld, T(0));
    for (int64_t j = 0; j < n; ++j)
      for (int64_t e = 0; e < d; ++e)
        dst[e * ld + j] = src[j * d + e];
  }
  static T max(const T* s, int64_t n) {
    T m = -kInf<T>;
    for (int64_t j = 0; j < n; ++j)
      m = nan_max(m, s[j]);
    return m;
  }
  // s[j] = e^(s[j] - m); returns their sum.
  static T exp_sum(T* s, T m, int64_t n) {
    T sum = 0;
    for (int64_t j = 0; j < n; ++j) {
      s[j] = std::exp(s[j] - m);
      sum += s[j];
    }
    return sum;
  }
  // dp[j] = p[j] (dp[j] - di) scale: dS from P and dP.
  static void ds(const T* p, T* dp, T di, T scale, int64_t n) {
    for (int64_t j = 0; j < n; ++j)
      dp[j] = p[j] * (dp[j] - di) * scale;
  }
  static T dot(const T* a, const T* b, int64_t d) {
    T sum = 0;
    for (int64_t e = 0; e < d; ++e)
      sum += a[e] * b[e];
    return sum;
  }
  static void scale(T* acc, T w, int64_t d) {
    for (int64_t e = 0; e < d; ++e)
      acc[e] *= w;
  }
  static void divide(T* y, const T* x, T w, int64_t d) {
    for (int64_t e = 0; e < d; ++e)
      y[e] = x[e] / w;
  }
};

// ---- AVX-512 primitives (f32) --------------------------------------------------------------

#define SJ_AVX512 __attribute__((target("avx512f,avx512vl,fma")))

// GCC 12 warns falsely about its own AVX-512 intrinsics (the _mm512_undefined_ps inside
// _mm512_max_ps, _mm512_scalef_ps, ...), as bench/CMakeLists.txt notes for Eigen.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

SJ_AVX512 inline __mmask16 tail_mask(int64_t n) { return __mmask16((1u << n) - 1); }

// e^x, 16 lanes: x = n ln2 + r with |r| <= ln2/2, e^r by its Taylor polynomial of degree 7
// (relative error ~1e-8 before rounding), scaled by 2^n. Below -87.3 (and at -inf) exactly 0;
// NaN stays NaN.
SJ_AVX512 inline __m512 exp16(__m512 x) {
  const __m512 lo = _mm512_set1_ps(-87.33654f);
  __mmask16 tiny = _mm512_cmp_ps_mask(x, lo, _CMP_LT_OQ);
  x = _mm512_max_ps(lo, x); // max returns its second operand when one is NaN
  __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504f)),
                                  _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
  // Written out: GCC keeps a loop over an initializer list, loading each coefficient.
  __m512 p = _mm512_fmadd_ps(_mm512_set1_ps(1.0f / 5040), r, _mm512_set1_ps(1.0f / 720));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  return _mm512_mask_blend_ps(tiny, _mm512_scalef_ps(p, n), _mm512_setzero_ps());
}

// Horizontal sum and maximum by a fixed tree of halvings (GCC 12 warns falsely inside
// _mm512_reduce_add_ps / _mm512_reduce_max_ps).
template <typename Op>
SJ_AVX512 inline float reduce16(__m512 v, Op op) {
  __m256 lo = _mm512_castps512_ps256(v);
  __m256 hi = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1));
  __m256 x = op(lo, hi);
  __m128 y = op.half(_mm256_castps256_ps128(x), _mm256_extractf128_ps(x, 1));
  y = op.half(y, _mm_movehl_ps(y, y));
  y = op.half(y, _mm_shuffle_ps(y, y, 1));
  return _mm_cvtss_f32(y);
}
struct AddOp {
  SJ_AVX512 __m256 operator()(__m256 a, __m256 b) const { return _mm256_add_ps(a, b); }
  SJ_AVX512 __m128 half(__m128 a, __m128 b) const { return _mm_add_ps(a, b); }
};
struct MaxOp {
  SJ_AVX512 __m256 operator()(__m256 a, __m256 b) const { return _mm256_max_ps(a, b); }
  SJ_AVX512 __m128 half(__m128 a, __m128 b) const { return _mm_max_ps(a, b); }
};
SJ_AVX512 inline float hsum(__m512 v) { return reduce16(v, AddOp{}); }
SJ_AVX512 inline float hmax(__m512 v) { return reduce16(v, MaxOp{}); }

using TileFn = void (*)(const float*, int64_t, int64_t, const float*, int64_t, int64_t, float*,
                        int64_t, __mmask16, bool);

// The micro-kernel: C[R][NV vectors] of Portable::gemm in registers, B's row e loaded once per e
// and A's elements broadcast; the last vector's lanes are `tail`.
template <int R, int NV>
SJ_AVX512 void tile(const float* a, int64_t rs, int64_t cs, const float* b, int64_t ldb, int64_t k,
                    float* c, int64_t ldc, __mmask16 tail, bool accumulate) {
  __m512 acc[R][NV];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v)
      acc[r][v] = accumulate ? _mm512_maskz_loadu_ps(v == NV - 1 ? tail : __mmask16(0xffff),
                                                     c + r * ldc + v * kLanes)
                             : _mm512_setzero_ps();
  for (int64_t e = 0; e < k; ++e) {
    __m512 bv[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV - 1; ++v)
      bv[v] = _mm512_loadu_ps(b + e * ldb + v * kLanes);
    bv[NV - 1] = _mm512_maskz_loadu_ps(tail, b + e * ldb + (NV - 1) * kLanes);
    const float* ae = a + e * cs;
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      __m512 x = _mm512_set1_ps(ae[r * rs]);
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v)
        acc[r][v] = _mm512_fmadd_ps(x, bv[v], acc[r][v]);
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v)
      _mm512_mask_storeu_ps(c + r * ldc + v * kLanes, v == NV - 1 ? tail : __mmask16(0xffff),
                            acc[r][v]);
}

constexpr int kTileRows = 8, kTileVectors = 4;

template <int NV, size_t... I>
constexpr std::array<TileFn, kTileRows> tiles_of(std::index_sequence<I...>) {
  return {&tile<int(I) + 1, NV>...};
}
constexpr std::array<std::array<TileFn, kTileRows>, kTileVectors> kTiles = {
    tiles_of<1>(std::make_index_sequence<kTileRows>()),
    tiles_of<2>(std::make_index_sequence<kTileRows>()),
    tiles_of<3>(std::make_index_sequence<kTileRows>()),
    tiles_of<4>(std::make_index_sequence<kTileRows>())};

struct Avx512 {
  // As Portable::gemm: panels of up to 64 columns, tiles of up to 8 rows (4 with four vectors,
  // so that a group of 8 rows is two whole tiles).
  SJ_AVX512 static void gemm(int64_t m, int64_t n, int64_t k, const float* a, int64_t rs,
                             int64_t cs, const float* b, int64_t ldb, float* c, int64_t ldc,
                             bool accumulate) {
    for (int64_t c0 = 0; c0 < n; c0 += kTileVectors * kLanes) {
      int64_t cols = std::min(kTileVectors * kLanes, n - c0);
      int64_t nv = (cols + kLanes - 1) / kLanes;
      __mmask16 tail = tail_mask(cols - (nv - 1) * kLanes);
      int64_t rows = nv == 4 ? 4 : kTileRows;
      for (int64_t r0 = 0; r0 < m; r0 += rows) {
        int64_t rt = std::min(rows, m - r0);
        kTiles[size_t(nv - 1)][size_t(rt - 1)](a + r0 * rs, rs, cs, b + c0, ldb, k,
                                               c + r0 * ldc + c0, ldc, tail, accumulate);
      }
    }
  }
  // As Portable's, by 16 x 16 blocks transposed in registers (ld is a multiple of 16).
  SJ_AVX512 static void pack_t(const float* src, int64_t d, int64_t n, int64_t ld, float* dst) {
    for (int64_t j = 0; j < ld; j += kLanes)
      for (int64_t e0 = 0; e0 < d; e0 += kLanes) {
        __mmask16 cols = tail_mask(std::min<int64_t>(kLanes, d - e0));
        __m512 r[kLanes];
        for (int64_t i = 0; i < kLanes; ++i)
          r[i] =
              j + i < n ? _mm512_maskz_loadu_ps(cols, src + (j + i) * d + e0) : _mm512_setzero_ps();
        transpose16(r);
        for (int64_t e = 0; e < std::min<int64_t>(kLanes, d - e0); ++e)
          _mm512_store_ps(dst + (e0 + e) * ld + j, r[e]);
      }
  }
  // r[i][e] -> r[e][i]: pairs of rows interleaved, then quadruples, then 128-bit lanes.
  SJ_AVX512 static void transpose16(__m512* r) {
    __m512 t[kLanes];
    for (int i = 0; i < kLanes; i += 2) {
      t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
      t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
    }
    // u[4g + c] holds element c + 4 lane of rows 4g..4g+3, lane by lane.
    __m512 u[kLanes];
    for (int g = 0; g < 4; ++g) {
      __m512 *x = t + 4 * g, *y = u + 4 * g;
      y[0] = _mm512_shuffle_ps(x[0], x[2], _MM_SHUFFLE(1, 0, 1, 0));
      y[1] = _mm512_shuffle_ps(x[0], x[2], _MM_SHUFFLE(3, 2, 3, 2));
      y[2] = _mm512_shuffle_ps(x[1], x[3], _MM_SHUFFLE(1, 0, 1, 0));
      y[3] = _mm512_shuffle_ps(x[1], x[3], _MM_SHUFFLE(3, 2, 3, 2));
    }
    for (int c = 0; c < 4; ++c) {
      __m512 even0 = _mm512_shuffle_f32x4(u[c], u[4 + c], 0x88);
      __m512 odd0 = _mm512_shuffle_f32x4(u[c], u[4 + c], 0xdd);
      __m512 even1 = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0x88);
      __m512 odd1 = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0xdd);
      r[c] = _mm512_shuffle_f32x4(even0, even1, 0x88);
      r[8 + c] = _mm512_shuffle_f32x4(even0, even1, 0xdd);
      r[4 + c] = _mm512_shuffle_f32x4(odd0, odd1, 0x88);
      r[12 + c] = _mm512_shuffle_f32x4(odd0, odd1, 0xdd);
    }
  }
  // As Portable's; s is padded to a multiple of 16 (whole vectors are stored).
  SJ_AVX512 static void finish_scores(float* s, float scale, const float* mask, int64_t stride,
                                      int64_t nv, int64_t n) {
    if (mask && stride != 1 && stride != 0) {
      Portable<float>::finish_scores(s, scale, mask, stride, nv, n);
      return;
    }
    __m512 f = _mm512_set1_ps(scale), hidden = _mm512_set1_ps(-kInf<float>);
    __m512 m0 = mask && stride == 0 ? _mm512_set1_ps(mask[0]) : _mm512_setzero_ps();
    for (int64_t j = 0; j < n; j += kLanes) {
      __mmask16 live = tail_mask(std::clamp<int64_t>(nv - j, 0, kLanes));
      __m512 x = _mm512_mul_ps(_mm512_load_ps(s + j), f);
      if (mask) x = _mm512_add_ps(x, stride == 1 ? _mm512_maskz_loadu_ps(live, mask + j) : m0);
      _mm512_store_ps(s + j, _mm512_mask_blend_ps(live, hidden, x));
    }
  }
  SJ_AVX512 static float max(const float* s, int64_t n) {
    __m512 m = _mm512_set1_ps(-kInf<float>);
    __mmask16 nan = 0;
    for (int64_t j = 0; j < n; j += kLanes) {
      __mmask16 live = tail_mask(std::min<int64_t>(kLanes, n - j));
      __m512 x = _mm512_mask_load_ps(m, live, s + j);
      nan |= _mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q);
      m = _mm512_max_ps(m, x);
    }
    return nan ? std::numeric_limits<float>::quiet_NaN() : hmax(m);
  }
  SJ_AVX512 static float exp_sum(float* s, float m, int64_t n) {
    __m512 sum = _mm512_setzero_ps(), mv = _mm512_set1_ps(m);
    for (int64_t j = 0; j < n; j += kLanes) {
      __mmask16 live = tail_mask(std::min<int64_t>(kLanes, n - j));
      __m512 p = _mm512_maskz_mov_ps(live, exp16(_mm512_sub_ps(_mm512_load_ps(s + j), mv)));
      _mm512_store_ps(s + j, p);
      sum = _mm512_add_ps(sum, p);
    }
    return hsum(sum);
  }
  SJ_AVX512 static void ds(const float* p, float* dp, float di, float scale, int64_t n) {
    __m512 dv = _mm512_set1_ps(di), f = _mm512_set1_ps(scale);
    for (int64_t j = 0; j < n; j += kLanes) {
      __m512 x = _mm512_sub_ps(_mm512_load_ps(dp + j), dv);
      _mm512_store_ps(dp + j, _mm512_mul_ps(_mm512_mul_ps(_mm512_load_ps(p + j), x), f));
    }
  }
  SJ_AVX512 static float dot(const float* a, const float* b, int64_t d) {
    __m512 sum = _mm512_setzero_ps();
    for (int64_t e = 0; e < d; e += kLanes) {
      __mmask16 live = tail_mask(std::min<int64_t>(kLanes, d - e));
      sum = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(live, a + e), _mm512_maskz_loadu_ps(live, b + e),
                            sum);
    }
    return hsum(sum);
  }
  SJ_AVX512 static void scale(float* acc, float w, int64_t d) {
    __m512 wv = _mm512_set1_ps(w);
    for (int64_t e = 0; e < d; e += kLanes) {
      __mmask16 live = tail_mask(std::min<int64_t>(kLanes, d - e));
      _mm512_mask_storeu_ps(acc + e, live, _mm512_mul_ps(wv, _mm512_maskz_loadu_ps(live, acc + e)));
    }
  }
  SJ_AVX512 static void divide(float* y, const float* x, float w, int64_t d) {
    __m512 wv = _mm512_set1_ps(w);
    for (int64_t e = 0; e < d; e += kLanes) {
      __mmask16 live = tail_mask(std::min<int64_t>(kLanes, d - e));
      _mm512_mask_storeu_ps(y + e, live, _mm512_div_ps(_mm512_maskz_loadu_ps(live, x + e), wv));
    }
  }
};

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

// ---- the drivers ---------------------------------------------------------------------------

// Per-thread scratch, reused across calls (no allocation once warm).
thread_local AlignedBuffer tls_scratch;

// Carves 64-byte aligned arrays out of the thread's scratch.
template <typename T>
struct Scratch {
  static constexpr int64_t kAlign = 64 / sizeof(T);
  explicit Scratch(int64_t elements)
      : next(reinterpret_cast<T*>(
            tls_scratch.get(size_t(elements + 8 * kAlign) * sizeof(T) / sizeof(float)))) {}
  T* take(int64_t elements) {
    T* p = next;
    next += round_up(elements, kAlign);
    return p;
  }
  T* next;
};

constexpr int64_t kLdS = kBlockK; // row stride of the score tiles (a multiple of kLanes)
// Rows (and keys) per product within a block pair: under a causal mask each group of queries
// computes only the keys its rows see, which trims the diagonal block's hidden triangle.
constexpr int64_t kGroup = 8;

template <typename T, typename P>
struct Attention {
  const SjAttentionArgs& a;
  T scale;
  int64_t offset; // tk - tq: query i sees keys j <= i + offset under causal
  int64_t nq, nk; // query and key blocks

  explicit Attention(const SjAttentionArgs& args)
      : a(args), scale(T(args.scale)), offset(args.tk - args.tq),
        nq((args.tq + kBlockQ - 1) / kBlockQ), nk((args.tk + kBlockK - 1) / kBlockK) {}

  // Whether units are whole heads (fewest products and packings) rather than blocks of one:
  // when the heads balance the threads. The bits are the same either way (see the top).
  bool whole_heads() const {
    int threads = a.pool ? static_cast<ThreadPool*>(a.pool)->size() : 1;
    return a.b * a.h >= 4 * threads || (nq == 1 && nk == 1);
  }

  // Null for a null base: attention_lse runs the forward without v.
  const T* row(const void* base, int64_t bh, int64_t i, int64_t rows) const {
    if (!base) return nullptr;
    return static_cast<const T*>(base) + (bh * rows + i) * a.d;
  }
  // Of the keys [j0, j0 + n), how many query i sees (a prefix).
  int64_t visible(int64_t i, int64_t j0, int64_t n) const {
    return a.causal ? std::clamp<int64_t>(i + offset + 1 - j0, 0, n) : n;
  }
  // Whether some query of [i0, i1) sees key j0.
  bool block_visible(int64_t i1, int64_t j0) const { return !a.causal || j0 <= i1 - 1 + offset; }
  // The first query block some query of which sees key j0.
  int64_t first_query_block(int64_t j0) const {
    return a.causal ? std::max<int64_t>(0, j0 - offset) / kBlockQ : 0;
  }
  // Keys [j0, j0 + n) of head bh of `src` (k or v), transposed: dst[e * ld + j], zero-padded.
  void pack_t(const void* src, int64_t bh, int64_t j0, int64_t n, int64_t ld, T* dst) const {
    P::pack_t(row(src, bh, j0, a.tk), a.d, n, ld, dst);
  }
  // Scales and masks the scores s of query i against keys [j0, j0 + nv) in place; the keys
  // [nv, n) are hidden (-inf).
  void finish_scores(int64_t bh, int64_t i, int64_t j0, int64_t nv, int64_t n, T* s) const {
    const T* mask = nullptr;
    if (a.mask && nv > 0) {
      const int64_t* st = a.mask_stride;
      mask = static_cast<const T*>(a.mask) + (bh / a.h) * st[0] + (bh % a.h) * st[1] + i * st[2] +
             j0 * st[3];
    }
    P::finish_scores(s, scale, mask, a.mask_stride[3], nv, n);
  }

  // ---- forward: query blocks [qb0, qb1) of head bh, every key block packed once
  void forward(int64_t bh, int64_t qb0, int64_t qb1) const {
    int64_t d = a.d, last = std::min(a.tq, qb1 * kBlockQ), blocks = 0;
    while (blocks < nk && block_visible(last, blocks * kBlockK))
      ++blocks;
    Scratch<T> sc(blocks * kBlockK * d + kBlockQ * (kLdS + d + 2));
    T* kts = sc.take(blocks * kBlockK * d);
    for (int64_t jb = 0; jb < blocks; ++jb) {
      int64_t j0 = jb * kBlockK, n = std::min(kBlockK, a.tk - j0);
      pack_t(a.k, bh, j0, n, round_up(n, kLanes), kts + jb * kBlockK * d);
    }
    T* s = sc.take(kBlockQ * kLdS);
    T* acc = sc.take(kBlockQ * d);
    T* m = sc.take(kBlockQ);
    T* l = sc.take(kBlockQ);
    for (int64_t qb = qb0; qb < qb1; ++qb)
      forward_block(bh, qb, kts, s, acc, m, l);
  }
  void forward_block(int64_t bh, int64_t qb, const T* kts, T* s, T* acc, T* m, T* l) const {
    int64_t i0 = qb * kBlockQ, i1 = std::min(i0 + kBlockQ, a.tq), rows = i1 - i0, d = a.d;
    std::fill(acc, acc + rows * d, T(0));
    std::fill(m, m + rows, -kInf<T>);
    std::fill(l, l + rows, T(0));
    const T* q = row(a.q, bh, i0, a.tq);
    for (int64_t j0 = 0; j0 < a.tk && block_visible(i1, j0); j0 += kBlockK) {
      int64_t n = std::min(kBlockK, a.tk - j0), ld = round_up(n, kLanes);
      const T* v = row(a.v, bh, j0, a.tk);
      const T* kt = kts + j0 * d;
      for (int64_t g0 = 0; g0 < rows; g0 += kGroup) {
        int64_t g1 = std::min(g0 + kGroup, rows);
        int64_t width = visible(i0 + g1 - 1, j0, n); // the keys some row of the group sees
        if (width == 0) continue;
        P::gemm(g1 - g0, width, d, q + g0 * d, d, 1, kt, ld, s + g0 * kLdS, kLdS, false);
        for (int64_t r = g0; r < g1; ++r) {
          T* sr = s + r * kLdS;
          finish_scores(bh, i0 + r, j0, visible(i0 + r, j0, n), width, sr);
          T mn = nan_max(m[r], P::max(sr, width));
          if (mn == -kInf<T>) { // every key so far hidden: no weight, nothing to rescale
            std::fill(sr, sr + width, T(0));
            continue;
          }
          T alpha = std::exp(m[r] - mn); // 0 on the first keys
          l[r] = l[r] * alpha + P::exp_sum(sr, mn, width);
          m[r] = mn;
          if (a.out && alpha != T(1)) P::scale(acc + r * d, alpha, d);
        }
        if (a.out) P::gemm(g1 - g0, d, width, s + g0 * kLdS, kLdS, 1, v, d, acc + g0 * d, d, true);
      }
    }
    for (int64_t r = 0; r < rows; ++r) {
      bool empty = m[r] == -kInf<T>;
      if (a.lse) static_cast<T*>(a.lse)[bh * a.tq + i0 + r] = empty ? m[r] : m[r] + std::log(l[r]);
      if (!a.out) continue;
      T* y = static_cast<T*>(a.out) + (bh * a.tq + i0 + r) * d;
      if (empty)
        std::fill(y, y + d, T(0));
      else
        P::divide(y, acc + r * d, l[r], d);
    }
  }

  // ---- backward
  T* out_row(int64_t bh, int64_t r) const {
    return static_cast<T*>(a.out) + (bh * (a.tq + 2 * a.tk) + r) * a.d;
  }

  // The packed keys and values of one key block and the tiles of one block pair.
  struct Buffers {
    T *kt, *vt, *p, *ds, *di;
  };
  Buffers buffers(Scratch<T>& sc) const {
    Buffers b;
    b.kt = sc.take(kBlockK * a.d);
    b.vt = sc.take(kBlockK * a.d);
    b.p = sc.take(kBlockQ * kLdS);
    b.ds = sc.take(kBlockQ * kLdS);
    b.di = sc.take(kBlockQ);
    return b;
  }
  static int64_t buffers_size(int64_t d) { return 2 * kBlockK * d + 2 * kBlockQ * kLdS + kBlockQ; }
  void pack_block(int64_t bh, int64_t j0, const Buffers& b) const {
    int64_t n = std::min(kBlockK, a.tk - j0), ld = round_up(n, kLanes);
    pack_t(a.k, bh, j0, n, ld, b.kt);
    pack_t(a.v, bh, j0, n, ld, b.vt);
  }

  // Query block qb against the key block at j0 (packed in b): P and dS, then dq += dS K when
  // `dq`, dk += dSᵀ Q and dv += Pᵀ dY when `dkdv`, straight into `out`.
  void backward_pair(int64_t bh, int64_t qb, int64_t j0, const Buffers& b, bool dq,
                     bool dkdv) const {
    int64_t i0 = qb * kBlockQ, rows = std::min(kBlockQ, a.tq - i0), d = a.d;
    int64_t n = std::min(kBlockK, a.tk - j0), ld = round_up(n, kLanes);
    int64_t width = visible(i0 + rows - 1, j0, n);
    if (width == 0) return;
    const T* q = row(a.q, bh, i0, a.tq);
    const T* dy = row(a.dy, bh, i0, a.tq);
    const T* lse = static_cast<const T*>(a.lse) + bh * a.tq + i0;
    // P and dS group by group, each over the keys its rows see; zero beyond, up to `width`.
    for (int64_t g0 = 0; g0 < rows; g0 += kGroup) {
      int64_t g1 = std::min(g0 + kGroup, rows), gw = visible(i0 + g1 - 1, j0, n);
      if (gw > 0) {
        P::gemm(g1 - g0, gw, d, q + g0 * d, d, 1, b.kt, ld, b.p + g0 * kLdS, kLdS, false);
        P::gemm(g1 - g0, gw, d, dy + g0 * d, d, 1, b.vt, ld, b.ds + g0 * kLdS, kLdS, false);
      }
      for (int64_t r = g0; r < g1; ++r) {
        T* p = b.p + r * kLdS;
        T* ds = b.ds + r * kLdS;
        int64_t nv = visible(i0 + r, j0, n), live = gw;
        if (lse[r] == -kInf<T> || nv == 0) live = 0; // a row without keys has no gradient
        if (live > 0) {
          finish_scores(bh, i0 + r, j0, nv, live, p);
          P::exp_sum(p, lse[r], live);
          P::ds(p, ds, P::dot(dy + r * d, row(a.y, bh, i0 + r, a.tq), d), scale, live);
        }
        std::fill(p + live, p + width, T(0));
        std::fill(ds + live, ds + width, T(0));
      }
      if (dq && gw > 0)
        P::gemm(g1 - g0, d, gw, b.ds + g0 * kLdS, kLdS, 1, row(a.k, bh, j0, a.tk), d,
                out_row(bh, i0 + g0), d, true);
    }
    if (!dkdv) return;
    // dK and dV group by group of keys, from the first row that sees the group's first key.
    for (int64_t k0 = 0; k0 < width; k0 += kGroup) {
      int64_t mk = std::min(kGroup, width - k0);
      int64_t r0 = a.causal ? std::clamp<int64_t>(j0 + k0 - offset - i0, 0, rows) : 0;
      if (r0 == rows) continue;
      P::gemm(mk, d, rows - r0, b.ds + r0 * kLdS + k0, 1, kLdS, q + r0 * d, d,
              out_row(bh, a.tq + j0 + k0), d, true);
      P::gemm(mk, d, rows - r0, b.p + r0 * kLdS + k0, 1, kLdS, dy + r0 * d, d,
              out_row(bh, a.tq + a.tk + j0 + k0), d, true);
    }
  }

  void zero_rows(int64_t bh, int64_t r, int64_t n) const {
    std::fill(out_row(bh, r), out_row(bh, r + n), T(0));
  }
  void backward_head(int64_t bh) const {
    Scratch<T> sc(buffers_size(a.d));
    Buffers b = buffers(sc);
    zero_rows(bh, 0, a.tq + 2 * a.tk);
    for (int64_t j0 = 0; j0 < a.tk; j0 += kBlockK) {
      pack_block(bh, j0, b);
      for (int64_t qb = first_query_block(j0); qb < nq; ++qb)
        backward_pair(bh, qb, j0, b, true, true);
    }
  }
  void backward_keys(int64_t bh, int64_t jb) const {
    Scratch<T> sc(buffers_size(a.d));
    Buffers b = buffers(sc);
    int64_t j0 = jb * kBlockK, n = std::min(kBlockK, a.tk - j0);
    zero_rows(bh, a.tq + j0, n);
    zero_rows(bh, a.tq + a.tk + j0, n);
    pack_block(bh, j0, b);
    for (int64_t qb = first_query_block(j0); qb < nq; ++qb)
      backward_pair(bh, qb, j0, b, false, true);
  }
  void backward_queries(int64_t bh, int64_t qb) const {
    Scratch<T> sc(buffers_size(a.d));
    Buffers b = buffers(sc);
    int64_t i0 = qb * kBlockQ, i1 = std::min(i0 + kBlockQ, a.tq);
    zero_rows(bh, i0, i1 - i0);
    for (int64_t j0 = 0; j0 < a.tk && block_visible(i1, j0); j0 += kBlockK) {
      pack_block(bh, j0, b);
      backward_pair(bh, qb, j0, b, true, false);
    }
  }
};

template <typename F>
void run_units(const SjAttentionArgs& a, int64_t units, F unit) {
  auto range = [&](int64_t begin, int64_t end) {
    for (int64_t u = begin; u < end; ++u)
      unit(u);
  };
  if (units <= 0) return;
  if (a.pool)
    static_cast<ThreadPool*>(a.pool)->parallel_for(units, range);
  else
    range(0, units);
}

template <typename T, typename P>
void forward(const SjAttentionArgs& args) {
  Attention<T, P> at(args);
  if (at.whole_heads()) {
    run_units(args, args.b * args.h, [&](int64_t u) { at.forward(u, 0, at.nq); });
    return;
  }
  run_units(args, args.b * args.h * at.nq,
            [&](int64_t u) { at.forward(u / at.nq, u % at.nq, u % at.nq + 1); });
}

template <typename T, typename P>
void backward(const SjAttentionArgs& args) {
  Attention<T, P> at(args);
  int64_t heads = args.b * args.h;
  if (at.whole_heads()) {
    run_units(args, heads, [&](int64_t u) { at.backward_head(u); });
    return;
  }
  int64_t key_units = heads * at.nk;
  run_units(args, key_units + heads * at.nq, [&](int64_t u) {
    if (u < key_units)
      at.backward_keys(u / at.nk, u % at.nk);
    else
      at.backward_queries((u - key_units) / at.nq, (u - key_units) % at.nq);
  });
}

bool use_avx512() { return gemm_path() == GemmPath::avx512; }

} // namespace
} // namespace sj

extern "C" {

void sj_attention_f32(const SjAttentionArgs* args) {
  if (sj::use_avx512())
    sj::forward<float, sj::Avx512>(*args);
  else
    sj::forward<float, sj::Portable<float>>(*args);
}
void sj_attention_f64(const SjAttentionArgs* args) {
  sj::forward<double, sj::Portable<double>>(*args);
}
void sj_attention_backprop_f32(const SjAttentionArgs* args) {
  if (sj::use_avx512())
    sj::backward<float, sj::Avx512>(*args);
  else
    sj::backward<float, sj::Portable<float>>(*args);
}
void sj_attention_backprop_f64(const SjAttentionArgs* args) {
  sj::backward<double, sj::Portable<double>>(*args);
}

} // extern "C"

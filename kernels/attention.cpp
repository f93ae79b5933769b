// FlashAttention on the CPU (kernels/attention.h): one forward and one backward driver over
// blocks, written once over a dtype T and a set of inner-loop primitives P, the portable ones
// (plain loops, for f64 and for f32 on machines without AVX-512) or AVX-512 intrinsics for f32,
// chosen as the GEMM chooses its micro-kernel (kernels/gemm.h: gemm_path()).
//
// Forward, per unit (b, h, block of kBlockQ queries): for each block of kBlockK keys (those a
// causal mask hides entirely are skipped), the keys are packed transposed (kt[d][j]: one vector
// load gives 16 keys' element d), and for each query row: the scores s_j = scale q.k_j + mask,
// the running maximum m and sum l of e^(s - m), and the output accumulator rescaled by
// e^(m_old - m_new), then o += sum_j e^(s_j - m) v_j. At the end o / l and lse = m + log l.
//
// Backward (FlashAttention-2's, recomputing p = e^(s - lse)): units (b, h, key block) compute
// dk and dv for their keys over every query row in order; units (b, h, query block) compute dq
// for their rows over every key block in order. Each output element is computed by one unit in
// a fixed order, so the bits do not depend on the thread count; recomputing the scores in both
// kinds of unit (7 block products instead of 5) buys that without per-thread partial sums.
#include "kernels/attention.h"

#include "kernels/aligned_buffer.h"
#include "kernels/gemm.h"
#include "kernels/thread_pool.h"

#include <algorithm>
#include <cmath>
#include <immintrin.h>
#include <limits>

namespace sj {
namespace {

constexpr int64_t kBlockQ = 32; // query rows per forward/dq unit
constexpr int64_t kBlockK = 64; // keys per block: kt, vt and the block's v rows stay in L1
constexpr int64_t kLanes = 16;  // keys per score vector; blocks are padded to a multiple

template <typename T>
T nan_max(T a, T b) {
  if (a != a) return a;
  if (b != b) return b;
  return a > b ? a : b;
}

// ---- portable primitives -------------------------------------------------------------------

template <typename T>
struct Portable {
  // s[j] = sum_d q[d] kt[d * ld + j] for j < n.
  static void scores(const T* q, const T* kt, int64_t ld, int64_t d, int64_t n, T* s) {
    std::fill(s, s + n, T(0));
    for (int64_t e = 0; e < d; ++e) {
      T x = q[e];
      const T* row = kt + e * ld;
      for (int64_t j = 0; j < n; ++j)
        s[j] += x * row[j];
    }
  }
  // s[j] = s[j] * scale + mask[j * stride] (no mask: null).
  static void finish_scores(T* s, T scale, const T* mask, int64_t stride, int64_t n) {
    if (!mask)
      for (int64_t j = 0; j < n; ++j)
        s[j] *= scale;
    else
      for (int64_t j = 0; j < n; ++j)
        s[j] = s[j] * scale + mask[j * stride];
  }
  static T max(const T* s, int64_t n) {
    T m = -std::numeric_limits<T>::infinity();
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
  static T dot(const T* a, const T* b, int64_t d) {
    T sum = 0;
    for (int64_t e = 0; e < d; ++e)
      sum += a[e] * b[e];
    return sum;
  }
  static void axpy(T* acc, T w, const T* x, int64_t d) {
    for (int64_t e = 0; e < d; ++e)
      acc[e] += w * x[e];
  }
  static void scale(T* acc, T w, int64_t d) {
    for (int64_t e = 0; e < d; ++e)
      acc[e] *= w;
  }
  // acc += sum_j w[j] rows[j * d ..] for j < n, key by key.
  static void weighted_rows(T* acc, const T* w, const T* rows, int64_t n, int64_t d) {
    for (int64_t j = 0; j < n; ++j)
      axpy(acc, w[j], rows + j * d, d);
  }
  // dst[j * d ..] += w[j] x for j < n.
  static void outer_add(T* dst, const T* w, const T* x, int64_t n, int64_t d) {
    for (int64_t j = 0; j < n; ++j)
      axpy(dst + j * d, w[j], x, d);
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
  __m512 p = _mm512_set1_ps(1.0f / 5040);
  for (float c : {1.0f / 720, 1.0f / 120, 1.0f / 24, 1.0f / 6, 0.5f, 1.0f, 1.0f})
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(c));
  return _mm512_mask_blend_ps(tiny, _mm512_scalef_ps(p, n), _mm512_setzero_ps());
}

// Horizontal sum and maximum in a fixed lane order (GCC 12 warns falsely inside
// _mm512_reduce_add_ps / _mm512_reduce_max_ps).
SJ_AVX512 inline float hsum(__m512 v) {
  alignas(64) float t[kLanes];
  _mm512_store_ps(t, v);
  float s = 0;
  for (float x : t)
    s += x;
  return s;
}
SJ_AVX512 inline float hmax(__m512 v) {
  alignas(64) float t[kLanes];
  _mm512_store_ps(t, v);
  float m = t[0];
  for (float x : t)
    m = std::max(m, x);
  return m;
}

struct Avx512 {
  // As Portable::scores, for every lane of ceil(n / 16) vectors (kt is zero-padded to ld):
  // four vectors of keys at a time, each lane one FMA chain in d order.
  SJ_AVX512 static void scores(const float* q, const float* kt, int64_t ld, int64_t d, int64_t n,
                               float* s) {
    int64_t vectors = (n + kLanes - 1) / kLanes, c = 0;
    for (; c + 4 <= vectors; c += 4) {
      __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
      const float* col = kt + c * kLanes;
      for (int64_t e = 0; e < d; ++e) {
        __m512 x = _mm512_set1_ps(q[e]);
        const float* row = col + e * ld;
        a0 = _mm512_fmadd_ps(x, _mm512_load_ps(row), a0);
        a1 = _mm512_fmadd_ps(x, _mm512_load_ps(row + 16), a1);
        a2 = _mm512_fmadd_ps(x, _mm512_load_ps(row + 32), a2);
        a3 = _mm512_fmadd_ps(x, _mm512_load_ps(row + 48), a3);
      }
      _mm512_store_ps(s + c * kLanes, a0);
      _mm512_store_ps(s + c * kLanes + 16, a1);
      _mm512_store_ps(s + c * kLanes + 32, a2);
      _mm512_store_ps(s + c * kLanes + 48, a3);
    }
    for (; c < vectors; ++c) {
      __m512 a = _mm512_setzero_ps();
      for (int64_t e = 0; e < d; ++e)
        a = _mm512_fmadd_ps(_mm512_set1_ps(q[e]), _mm512_load_ps(kt + e * ld + c * kLanes), a);
      _mm512_store_ps(s + c * kLanes, a);
    }
  }
  SJ_AVX512 static void finish_scores(float* s, float scale, const float* mask, int64_t stride,
                                      int64_t n) {
    if (mask && stride != 1 && stride != 0) {
      Portable<float>::finish_scores(s, scale, mask, stride, n);
      return;
    }
    __m512 f = _mm512_set1_ps(scale);
    __m512 m0 = mask && stride == 0 ? _mm512_set1_ps(mask[0]) : _mm512_setzero_ps();
    for (int64_t j = 0; j < n; j += kLanes) {
      __mmask16 live = tail_mask(std::min<int64_t>(kLanes, n - j));
      __m512 x = _mm512_mul_ps(_mm512_load_ps(s + j), f);
      if (mask) x = _mm512_add_ps(x, stride == 1 ? _mm512_maskz_loadu_ps(live, mask + j) : m0);
      _mm512_store_ps(s + j, x);
    }
  }
  SJ_AVX512 static float max(const float* s, int64_t n) {
    __m512 m = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
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
  SJ_AVX512 static float dot(const float* a, const float* b, int64_t d) {
    __m512 sum = _mm512_setzero_ps();
    for (int64_t e = 0; e < d; e += kLanes) {
      __mmask16 live = tail_mask(std::min<int64_t>(kLanes, d - e));
      sum = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(live, a + e), _mm512_maskz_loadu_ps(live, b + e),
                            sum);
    }
    return hsum(sum);
  }
  SJ_AVX512 static void axpy(float* acc, float w, const float* x, int64_t d) {
    __m512 wv = _mm512_set1_ps(w);
    int64_t e = 0;
    for (; e + kLanes <= d; e += kLanes)
      _mm512_storeu_ps(acc + e,
                       _mm512_fmadd_ps(wv, _mm512_loadu_ps(x + e), _mm512_loadu_ps(acc + e)));
    if (e < d) {
      __mmask16 live = tail_mask(d - e);
      _mm512_mask_storeu_ps(acc + e, live,
                            _mm512_fmadd_ps(wv, _mm512_maskz_loadu_ps(live, x + e),
                                            _mm512_maskz_loadu_ps(live, acc + e)));
    }
  }
  // As Portable's, with the accumulator row in registers when d <= 64.
  SJ_AVX512 static void weighted_rows(float* acc, const float* w, const float* rows, int64_t n,
                                      int64_t d) {
    if (d > 4 * kLanes) {
      for (int64_t j = 0; j < n; ++j)
        axpy(acc, w[j], rows + j * d, d);
      return;
    }
    __mmask16 live[4];
    __m512 a[4];
    int vectors = int((d + kLanes - 1) / kLanes);
    for (int c = 0; c < vectors; ++c) {
      live[c] = tail_mask(std::min<int64_t>(kLanes, d - c * kLanes));
      a[c] = _mm512_maskz_loadu_ps(live[c], acc + c * kLanes);
    }
    // Even and odd keys in two chains (FMA latency, not throughput, bounds one chain), added at
    // the end: a fixed order whatever the thread count.
    __m512 b[4];
    for (int c = 0; c < vectors; ++c)
      b[c] = _mm512_setzero_ps();
    int64_t j = 0;
    for (; j + 2 <= n; j += 2) {
      __m512 w0 = _mm512_set1_ps(w[j]), w1 = _mm512_set1_ps(w[j + 1]);
      const float* r = rows + j * d;
      for (int c = 0; c < vectors; ++c) {
        a[c] = _mm512_fmadd_ps(w0, _mm512_maskz_loadu_ps(live[c], r + c * kLanes), a[c]);
        b[c] = _mm512_fmadd_ps(w1, _mm512_maskz_loadu_ps(live[c], r + d + c * kLanes), b[c]);
      }
    }
    if (j < n)
      for (int c = 0; c < vectors; ++c)
        a[c] = _mm512_fmadd_ps(_mm512_set1_ps(w[j]),
                               _mm512_maskz_loadu_ps(live[c], rows + j * d + c * kLanes), a[c]);
    for (int c = 0; c < vectors; ++c)
      _mm512_mask_storeu_ps(acc + c * kLanes, live[c], _mm512_add_ps(a[c], b[c]));
  }
  SJ_AVX512 static void outer_add(float* dst, const float* w, const float* x, int64_t n,
                                  int64_t d) {
    if (d > 4 * kLanes) {
      for (int64_t j = 0; j < n; ++j)
        axpy(dst + j * d, w[j], x, d);
      return;
    }
    __mmask16 live[4];
    __m512 xv[4];
    int vectors = int((d + kLanes - 1) / kLanes);
    for (int c = 0; c < vectors; ++c) {
      live[c] = tail_mask(std::min<int64_t>(kLanes, d - c * kLanes));
      xv[c] = _mm512_maskz_loadu_ps(live[c], x + c * kLanes);
    }
    for (int64_t j = 0; j < n; ++j) {
      __m512 wv = _mm512_set1_ps(w[j]);
      float* r = dst + j * d;
      for (int c = 0; c < vectors; ++c)
        _mm512_mask_storeu_ps(
            r + c * kLanes, live[c],
            _mm512_fmadd_ps(wv, xv[c], _mm512_maskz_loadu_ps(live[c], r + c * kLanes)));
    }
  }
  SJ_AVX512 static void scale(float* acc, float w, int64_t d) {
    __m512 wv = _mm512_set1_ps(w);
    for (int64_t e = 0; e < d; e += kLanes) {
      __mmask16 live = tail_mask(std::min<int64_t>(kLanes, d - e));
      _mm512_mask_storeu_ps(acc + e, live, _mm512_mul_ps(wv, _mm512_maskz_loadu_ps(live, acc + e)));
    }
  }
};

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

// ---- the drivers ---------------------------------------------------------------------------

// Per-thread scratch, reused across calls (no allocation once warm).
thread_local AlignedBuffer tls_scratch;

template <typename T>
T* scratch(int64_t elements) {
  return reinterpret_cast<T*>(tls_scratch.get(size_t(elements) * sizeof(T) / sizeof(float)));
}

template <typename T, typename P>
struct Attention {
  const SjAttentionArgs& a;
  T scale;
  int64_t offset; // tk - tq: query i sees keys j <= i + offset under causal
  int64_t nq, nk; // query and key blocks

  explicit Attention(const SjAttentionArgs& args)
      : a(args), scale(T(args.scale)), offset(args.tk - args.tq),
        nq((args.tq + kBlockQ - 1) / kBlockQ), nk((args.tk + kBlockK - 1) / kBlockK) {}

  const T* row(const void* base, int64_t bh, int64_t i, int64_t rows) const {
    return static_cast<const T*>(base) + (bh * rows + i) * a.d;
  }
  // Of the keys [j0, j0 + n), how many query i sees (a prefix).
  int64_t visible(int64_t i, int64_t j0, int64_t n) const {
    return a.causal ? std::clamp<int64_t>(i + offset + 1 - j0, 0, n) : n;
  }
  // Whether some query of [i0, i1) sees key j0.
  bool block_visible(int64_t i1, int64_t j0) const { return !a.causal || j0 <= i1 - 1 + offset; }
  // Keys [j0, j0 + n) of head bh of `src` (k or v), transposed: dst[e * ld + j], zero-padded.
  void pack_t(const void* src, int64_t bh, int64_t j0, int64_t n, int64_t ld, T* dst) const {
    for (int64_t e = 0; e < a.d; ++e)
      std::fill(dst + e * ld + n, dst + (e + 1) * ld, T(0));
    for (int64_t j = 0; j < n; ++j) {
      const T* r = row(src, bh, j0 + j, a.tk);
      for (int64_t e = 0; e < a.d; ++e)
        dst[e * ld + j] = r[e];
    }
  }
  // s[j] = scale q_i . k_(j0+j) + mask for the nv visible keys of a packed block.
  void scores(int64_t bh, int64_t i, const T* kt, int64_t ld, int64_t j0, int64_t nv, T* s) const {
    P::scores(row(a.q, bh, i, a.tq), kt, ld, a.d, nv, s);
    const T* mask = nullptr;
    if (a.mask) {
      const int64_t* st = a.mask_stride;
      mask = static_cast<const T*>(a.mask) + (bh / a.h) * st[0] + (bh % a.h) * st[1] + i * st[2] +
             j0 * st[3];
    }
    P::finish_scores(s, scale, mask, a.mask_stride[3], nv);
  }

  // ---- forward: unit (bh, query block)
  void forward(int64_t unit) const {
    int64_t bh = unit / nq, i0 = unit % nq * kBlockQ, i1 = std::min(i0 + kBlockQ, a.tq);
    int64_t rows = i1 - i0, d = a.d;
    T* kt = scratch<T>(kBlockK * d + kBlockK + kBlockQ * (d + 2));
    T* s = kt + kBlockK * d;
    T* acc = s + kBlockK;
    T* m = acc + kBlockQ * d;
    T* l = m + kBlockQ;
    std::fill(acc, acc + rows * d, T(0));
    std::fill(m, m + rows, -std::numeric_limits<T>::infinity());
    std::fill(l, l + rows, T(0));
    for (int64_t j0 = 0; j0 < a.tk && block_visible(i1, j0); j0 += kBlockK) {
      int64_t n = std::min(kBlockK, a.tk - j0), ld = round_up(n, kLanes);
      pack_t(a.k, bh, j0, n, ld, kt);
      for (int64_t r = 0; r < rows; ++r) {
        int64_t nv = visible(i0 + r, j0, n);
        if (nv == 0) continue;
        scores(bh, i0 + r, kt, ld, j0, nv, s);
        T mn = nan_max(m[r], P::max(s, nv));
        if (mn == -std::numeric_limits<T>::infinity()) continue; // every key so far hidden
        T alpha = std::exp(m[r] - mn);                           // 0 on the first keys
        l[r] = l[r] * alpha + P::exp_sum(s, mn, nv);
        m[r] = mn;
        if (!a.out) continue;
        T* o = acc + r * d;
        if (alpha != T(1)) P::scale(o, alpha, d);
        P::weighted_rows(o, s, row(a.v, bh, j0, a.tk), nv, d);
      }
    }
    for (int64_t r = 0; r < rows; ++r) {
      bool empty = m[r] == -std::numeric_limits<T>::infinity();
      if (a.lse) static_cast<T*>(a.lse)[bh * a.tq + i0 + r] = empty ? m[r] : m[r] + std::log(l[r]);
      if (!a.out) continue;
      T* y = static_cast<T*>(a.out) + (bh * a.tq + i0 + r) * d;
      for (int64_t e = 0; e < d; ++e)
        y[e] = empty ? T(0) : acc[r * d + e] / l[r];
    }
  }

  // ---- backward: units (bh, key block) for dk and dv, then (bh, query block) for dq
  T lse_of(int64_t bh, int64_t i) const { return static_cast<const T*>(a.lse)[bh * a.tq + i]; }
  T* out_row(int64_t bh, int64_t r) const {
    return static_cast<T*>(a.out) + (bh * (a.tq + 2 * a.tk) + r) * a.d;
  }

  // p = e^(s - lse) over the visible keys of query i, and dp_j = dy_i . v_j.
  void probabilities(int64_t bh, int64_t i, const T* kt, const T* vt, int64_t ld, int64_t j0,
                     int64_t nv, T lse, T* p, T* dp) const {
    scores(bh, i, kt, ld, j0, nv, p);
    P::exp_sum(p, lse, nv);
    P::scores(row(a.dy, bh, i, a.tq), vt, ld, a.d, nv, dp);
  }

  void backward_keys(int64_t bh, int64_t jb) const {
    int64_t j0 = jb * kBlockK, n = std::min(kBlockK, a.tk - j0), ld = round_up(n, kLanes);
    int64_t d = a.d;
    T* kt = scratch<T>(2 * ld * d + 2 * kBlockK + 2 * n * d);
    T* vt = kt + ld * d;
    T* p = vt + ld * d;
    T* dp = p + kBlockK;
    T* dk = dp + kBlockK;
    T* dv = dk + n * d;
    pack_t(a.k, bh, j0, n, ld, kt);
    pack_t(a.v, bh, j0, n, ld, vt);
    std::fill(dk, dk + 2 * n * d, T(0));
    for (int64_t i = a.causal ? std::max<int64_t>(0, j0 - offset) : 0; i < a.tq; ++i) {
      T lse = lse_of(bh, i);
      int64_t nv = visible(i, j0, n);
      if (lse == -std::numeric_limits<T>::infinity() || nv == 0) continue;
      probabilities(bh, i, kt, vt, ld, j0, nv, lse, p, dp);
      const T* qi = row(a.q, bh, i, a.tq);
      const T* dyi = row(a.dy, bh, i, a.tq);
      T di = P::dot(dyi, row(a.y, bh, i, a.tq), d);
      P::outer_add(dv, p, dyi, nv, d);
      for (int64_t j = 0; j < nv; ++j)
        dp[j] = p[j] * (dp[j] - di) * scale; // now ds, scaled
      P::outer_add(dk, dp, qi, nv, d);
    }
    for (int64_t j = 0; j < n; ++j) {
      std::copy(dk + j * d, dk + (j + 1) * d, out_row(bh, a.tq + j0 + j));
      std::copy(dv + j * d, dv + (j + 1) * d, out_row(bh, a.tq + a.tk + j0 + j));
    }
  }

  void backward_queries(int64_t bh, int64_t qb) const {
    int64_t i0 = qb * kBlockQ, i1 = std::min(i0 + kBlockQ, a.tq), rows = i1 - i0, d = a.d;
    int64_t ldmax = round_up(kBlockK, kLanes);
    T* kt = scratch<T>(2 * ldmax * d + 2 * kBlockK + kBlockQ * (d + 1));
    T* vt = kt + ldmax * d;
    T* p = vt + ldmax * d;
    T* dp = p + kBlockK;
    T* dq = dp + kBlockK;
    T* di = dq + kBlockQ * d;
    std::fill(dq, dq + rows * d, T(0));
    for (int64_t r = 0; r < rows; ++r)
      di[r] = P::dot(row(a.dy, bh, i0 + r, a.tq), row(a.y, bh, i0 + r, a.tq), d);
    for (int64_t j0 = 0; j0 < a.tk && block_visible(i1, j0); j0 += kBlockK) {
      int64_t n = std::min(kBlockK, a.tk - j0), ld = round_up(n, kLanes);
      pack_t(a.k, bh, j0, n, ld, kt);
      pack_t(a.v, bh, j0, n, ld, vt);
      for (int64_t r = 0; r < rows; ++r) {
        T lse = lse_of(bh, i0 + r);
        int64_t nv = visible(i0 + r, j0, n);
        if (lse == -std::numeric_limits<T>::infinity() || nv == 0) continue;
        probabilities(bh, i0 + r, kt, vt, ld, j0, nv, lse, p, dp);
        for (int64_t j = 0; j < nv; ++j)
          dp[j] = p[j] * (dp[j] - di[r]) * scale; // now ds, scaled
        P::weighted_rows(dq + r * d, dp, row(a.k, bh, j0, a.tk), nv, d);
      }
    }
    for (int64_t r = 0; r < rows; ++r)
      std::copy(dq + r * d, dq + (r + 1) * d, out_row(bh, i0 + r));
  }

  void backward(int64_t unit) const {
    int64_t key_units = a.b * a.h * nk;
    if (unit < key_units)
      backward_keys(unit / nk, unit % nk);
    else
      backward_queries((unit - key_units) / nq, (unit - key_units) % nq);
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
  run_units(args, args.b * args.h * at.nq, [&](int64_t u) { at.forward(u); });
}

template <typename T, typename P>
void backward(const SjAttentionArgs& args) {
  Attention<T, P> at(args);
  run_units(args, args.b * args.h * (at.nk + at.nq), [&](int64_t u) { at.backward(u); });
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

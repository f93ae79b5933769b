// conv2d and its two gradients as implicit GEMMs on the packed GEMM (kernels/gemm.cpp), per
// group:
//
//   conv2d                  y[N*OH*OW, F]  = im2col(x)[N*OH*OW, KH*KW*C] . kernel[KH*KW*C, F]
//   conv2d_backprop_input   dx[N*H*W, C]   = col(dy)[N*H*W, KH*KW*F] . kernel^T[KH*KW*F, C]
//   conv2d_backprop_kernel  dk[KH*KW*C, F] = im2col(x)^T[KH*KW*C, N*OH*OW] . dy[N*OH*OW, F]
//
// The im2col matrices are never stored: gemm_f32_pack_a calls a packer here for each MC x KC
// block of A, which gathers the block's elements straight from x (or dy) into the
// micro-kernel's slivers, with zeros for padding. backprop_input is the transposed
// convolution computed directly: row (n, ih, iw) of col(dy), step (kh, kw, f), reads
// dy[n, (ih + pad - kh*dh) / sh, ...] where that division is exact and in range, else 0 (for
// strides > 1 most of its steps are zeros: a stride-phase decomposition would skip them).
// A 1x1, stride-1, unpadded convolution is a plain sj_gemm_f32 on x, kernel and dy in place.
//
// Threads: the GEMM splits the rows or columns of the result, never K, so each element is the
// same FMA chain on any thread count. A backprop_kernel whose result is too small to split
// (a first layer's 3x3x1x32) splits K = N*OH*OW instead into chunks of fixed size, whatever
// the thread count, summed in chunk order: bit-identical for any thread count too.
#include "kernels/conv.h"

#include "kernels/aligned_buffer.h"
#include "kernels/thread_pool.h"

#include <algorithm>
#include <cstring>
#include <new>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace sj {

namespace {

// The packers gather with AVX-512 when the GEMM runs its AVX-512 micro-kernels (forcing
// another path, as tests do, also exercises the scalar packers).
bool use_gather() { return gemm_path() == GemmPath::avx512; }

thread_local AlignedBuffer tls_kernel_t, tls_partials;

// Copies of a few floats (a first layer's 3 taps of one channel) inline, longer ones by memcpy.
inline void copy_floats(float* d, const float* s, int64_t n) {
  if (n <= 8) {
    for (int64_t i = 0; i < n; ++i)
      d[i] = s[i];
  } else {
    std::memcpy(d, s, size_t(n) * sizeof(float));
  }
}
inline void zero_floats(float* d, int64_t n) {
  if (n <= 8) {
    for (int64_t i = 0; i < n; ++i)
      d[i] = 0.0f;
  } else {
    std::memset(d, 0, size_t(n) * sizeof(float));
  }
}

// Offsets fit a gather's int32 index (scaled by 4 bytes) when the source has fewer elements.
constexpr int64_t kGatherLimit = int64_t(1) << 31;

// dst[q*mr + r] = off[r] >= 0 ? src[off[r] + q] : 0 for r < mr, q < run.
void copy_run_scalar(const float* src, const int64_t* off, int mr, int64_t run, float* dst) {
  for (int64_t q = 0; q < run; ++q)
    for (int r = 0; r < mr; ++r)
      dst[q * mr + r] = off[r] >= 0 ? src[off[r] + q] : 0.0f;
}

#if defined(__x86_64__)
__attribute__((target("avx512f"))) void copy_run_avx512(const float* src, const int64_t* off,
                                                        int mr, int64_t run, float* dst) {
  alignas(64) int32_t idx[16] = {};
  unsigned valid = 0;
  for (int r = 0; r < mr; ++r)
    if (off[r] >= 0) {
      idx[r] = int32_t(off[r]);
      valid |= 1u << r;
    }
  const __m512i vi = _mm512_load_si512(idx);
  const __mmask16 lanes = __mmask16((1u << mr) - 1);
  for (int64_t q = 0; q < run; ++q)
    _mm512_mask_storeu_ps(
        dst + q * mr, lanes,
        _mm512_mask_i32gather_ps(_mm512_setzero_ps(), __mmask16(valid), vi, src + q, 4));
}
#endif

// op(A) of conv2d and conv2d_backprop_input: row i is a pixel of the result, step p is
// (tap, channel) with `chans` channels per tap, read from `src` (x, or dy) whose pixels have
// `src_c` channels, starting at channel ch0 (the group's).
struct PixelRows {
  const SjConvArgs* g;
  const float* src;
  int64_t src_c, ch0, chans;
  bool backprop; // rows are pixels of x and src is dy
  bool gather;   // AVX-512 gathers (and the offsets fit them)
};

[[maybe_unused]] void pack_pixel_rows(const void* ctx, int64_t i0, int64_t mc, int64_t p0,
                                      int64_t kc, int mr, float* dst) {
  const PixelRows& pr = *static_cast<const PixelRows*>(ctx);
  const SjConvArgs& g = *pr.g;
  // Rows are (n, a, b) over the result's pixels: y's for conv2d, x's for backprop_input.
  const int64_t rows_h = pr.backprop ? g.h : g.oh, rows_w = pr.backprop ? g.w : g.ow;
  int64_t rn[16], ra[16], rb[16], off[16];
  for (int64_t s = 0; s * mr < mc; ++s, dst += mr * kc) {
    const int rows = int(std::min<int64_t>(mr, mc - s * mr));
    for (int r = 0; r < rows; ++r) {
      int64_t i = i0 + s * mr + r;
      rb[r] = i % rows_w;
      i /= rows_w;
      ra[r] = i % rows_h;
      rn[r] = i / rows_h;
    }
    for (int64_t p = p0; p < p0 + kc;) {
      const int64_t tap = p / pr.chans, ch = p - tap * pr.chans;
      const int64_t run = std::min(pr.chans - ch, p0 + kc - p);
      const int64_t kh = tap / g.kw, kw = tap - kh * g.kw;
      for (int r = 0; r < mr; ++r) {
        off[r] = -1;
        if (r >= rows) continue;
        if (!pr.backprop) {
          const int64_t ih = ra[r] * g.stride_h - g.pad_top + kh * g.dilation_h;
          const int64_t iw = rb[r] * g.stride_w - g.pad_left + kw * g.dilation_w;
          if (ih >= 0 && ih < g.h && iw >= 0 && iw < g.w)
            off[r] = ((rn[r] * g.h + ih) * g.w + iw) * pr.src_c + pr.ch0;
        } else {
          // The output pixel whose tap (kh, kw) reads input pixel (ra, rb), if any.
          const int64_t th = ra[r] + g.pad_top - kh * g.dilation_h;
          const int64_t tw = rb[r] + g.pad_left - kw * g.dilation_w;
          if (th < 0 || tw < 0 || th % g.stride_h != 0 || tw % g.stride_w != 0) continue;
          const int64_t oh = th / g.stride_h, ow = tw / g.stride_w;
          if (oh < g.oh && ow < g.ow)
            off[r] = ((rn[r] * g.oh + oh) * g.ow + ow) * pr.src_c + pr.ch0;
        }
      }
      float* d = dst + (p - p0) * mr;
#if defined(__x86_64__)
      if (pr.gather && mr <= 16)
        copy_run_avx512(pr.src + ch, off, mr, run, d);
      else
#endif
        copy_run_scalar(pr.src + ch, off, mr, run, d);
      p += run;
    }
  }
}

// The same block as rows (gemm_f32_pack_a with rows = true): each row's run of channels per
// tap is contiguous in src, so packing is a copy. For conv2d with one group and no horizontal
// dilation, the KW taps of one kernel row are one contiguous run of KW*C floats where they lie
// inside the image.
void pack_pixel_rows_as_rows(const void* ctx, int64_t i0, int64_t mc, int64_t p0, int64_t kc,
                             int mr, float* dst) {
  const PixelRows& pr = *static_cast<const PixelRows*>(ctx);
  const SjConvArgs& g = *pr.g;
  const int64_t rows_h = pr.backprop ? g.h : g.oh, rows_w = pr.backprop ? g.w : g.ow;
  const int64_t p1 = p0 + kc, row_span = g.kw * pr.chans; // steps per kernel row
  const bool spans = !pr.backprop && pr.chans == pr.src_c && g.dilation_w == 1;
  int64_t b = i0 % rows_w, a = i0 / rows_w % rows_h, n = i0 / (rows_w * rows_h);
  for (int64_t r = 0; r < round_up(mc, mr); ++r) {
    float* d = dst + r * kc; // d[p - p0] for p in [p0, p1)
    if (r >= mc) {
      std::memset(d, 0, size_t(kc) * sizeof(float));
      continue;
    }
    if (r > 0 && ++b == rows_w) { // row i0 + r's pixel (n, a, b), without dividing
      b = 0;
      if (++a == rows_h) a = 0, ++n;
    }
    for (int64_t kh = p0 / row_span; kh * row_span < p1; ++kh) {
      const int64_t s0 = std::max(p0, kh * row_span), s1 = std::min(p1, (kh + 1) * row_span);
      if (spans) {
        const int64_t ih = a * g.stride_h - g.pad_top + kh * g.dilation_h;
        const int64_t iw0 = b * g.stride_w - g.pad_left;
        if (ih < 0 || ih >= g.h) {
          zero_floats(d + (s0 - p0), s1 - s0);
          continue;
        }
        if (iw0 >= 0 && iw0 + g.kw <= g.w) {
          const float* src = pr.src + ((n * g.h + ih) * g.w + iw0) * g.c + pr.ch0;
          copy_floats(d + (s0 - p0), src + (s0 - kh * row_span), s1 - s0);
          continue;
        }
      }
      // Tap by tap, without dividing per tap (two divisions per kernel row; for strides > 1
      // backprop_input divides by the stride).
      int64_t kw = s0 / pr.chans - kh * g.kw, ch = s0 - (s0 / pr.chans) * pr.chans;
      // The source row of this kernel row, or -1 when there is none.
      int64_t src_row = -1;
      if (!pr.backprop) {
        const int64_t ih = a * g.stride_h - g.pad_top + kh * g.dilation_h;
        if (ih >= 0 && ih < g.h) src_row = n * g.h + ih;
      } else {
        const int64_t th = a + g.pad_top - kh * g.dilation_h;
        if (th >= 0 && (g.stride_h == 1 || th % g.stride_h == 0) && th / g.stride_h < g.oh)
          src_row = n * g.oh + th / g.stride_h;
      }
      for (int64_t p = s0; p < s1; ++kw, ch = 0) {
        const int64_t run = std::min(pr.chans - ch, s1 - p);
        int64_t col = -1; // the source pixel's column
        if (src_row >= 0) {
          if (!pr.backprop) {
            const int64_t iw = b * g.stride_w - g.pad_left + kw * g.dilation_w;
            if (iw >= 0 && iw < g.w) col = iw;
          } else {
            const int64_t tw = b + g.pad_left - kw * g.dilation_w;
            if (tw >= 0 && (g.stride_w == 1 || tw % g.stride_w == 0) && tw / g.stride_w < g.ow)
              col = tw / g.stride_w;
          }
        }
        if (col >= 0) {
          const int64_t row_w = pr.backprop ? g.ow : g.w;
          copy_floats(d + (p - p0), pr.src + (src_row * row_w + col) * pr.src_c + pr.ch0 + ch, run);
        } else {
          zero_floats(d + (p - p0), run);
        }
        p += run;
      }
    }
  }
}

// op(A) of conv2d_backprop_kernel: row i is (tap, channel) of the kernel, step p a pixel
// (n, oh, ow) of dy; the element is x at the pixel that tap reads for it, or 0 (padding).
struct TapRows {
  const SjConvArgs* g;
  int64_t ch0, chans;
  bool gather;
};

void pack_tap_rows_scalar(const TapRows& tr, int64_t i0, int rows, int64_t p0, int64_t kc, int mr,
                          float* dst) {
  const SjConvArgs& g = *tr.g;
  int64_t khd[16], kwd[16], cho[16];
  for (int r = 0; r < rows; ++r) {
    const int64_t i = i0 + r, tap = i / tr.chans;
    khd[r] = tap / g.kw * g.dilation_h;
    kwd[r] = tap % g.kw * g.dilation_w;
    cho[r] = tr.ch0 + i - tap * tr.chans;
  }
  int64_t ow = p0 % g.ow, oh = p0 / g.ow % g.oh, n = p0 / (g.ow * g.oh);
  for (int64_t q = 0; q < kc; ++q) {
    const int64_t ih0 = oh * g.stride_h - g.pad_top, iw0 = ow * g.stride_w - g.pad_left;
    for (int r = 0; r < mr; ++r) {
      float v = 0.0f;
      if (r < rows) {
        const int64_t ih = ih0 + khd[r], iw = iw0 + kwd[r];
        if (ih >= 0 && ih < g.h && iw >= 0 && iw < g.w)
          v = g.x[((n * g.h + ih) * g.w + iw) * g.c + cho[r]];
      }
      dst[q * mr + r] = v;
    }
    if (++ow == g.ow) {
      ow = 0;
      if (++oh == g.oh) oh = 0, ++n;
    }
  }
}

#if defined(__x86_64__)
__attribute__((target("avx512f"))) void pack_tap_rows_avx512(const TapRows& tr, int64_t i0,
                                                             int rows, int64_t p0, int64_t kc,
                                                             int mr, float* dst) {
  const SjConvArgs& g = *tr.g;
  alignas(64) int32_t khd[16] = {}, kwd[16] = {}, cho[16] = {};
  for (int r = 0; r < rows; ++r) {
    const int64_t i = i0 + r, tap = i / tr.chans;
    khd[r] = int32_t(tap / g.kw * g.dilation_h);
    kwd[r] = int32_t(tap % g.kw * g.dilation_w);
    cho[r] = int32_t(tr.ch0 + i - tap * tr.chans);
  }
  // All rows one tap and consecutive channels: a contiguous (masked) load per step.
  const bool one_tap = khd[0] == khd[rows - 1] && kwd[0] == kwd[rows - 1];
  const __m512i vkh = _mm512_load_si512(khd), vkw = _mm512_load_si512(kwd),
                vch = _mm512_load_si512(cho);
  const __m512i vh = _mm512_set1_epi32(int32_t(g.h)), vw = _mm512_set1_epi32(int32_t(g.w)),
                vc = _mm512_set1_epi32(int32_t(g.c)), zero = _mm512_setzero_si512();
  const __mmask16 lanes = __mmask16((1u << rows) - 1), store = __mmask16((1u << mr) - 1);
  int64_t ow = p0 % g.ow, oh = p0 / g.ow % g.oh, n = p0 / (g.ow * g.oh);
  for (int64_t q = 0; q < kc; ++q) {
    const int64_t ih0 = oh * g.stride_h - g.pad_top, iw0 = ow * g.stride_w - g.pad_left;
    const float* image = g.x + n * g.h * g.w * g.c;
    __m512 v;
    if (one_tap) {
      const int64_t ih = ih0 + khd[0], iw = iw0 + kwd[0];
      v = ih >= 0 && ih < g.h && iw >= 0 && iw < g.w
              ? _mm512_maskz_loadu_ps(lanes, image + (ih * g.w + iw) * g.c + cho[0])
              : _mm512_setzero_ps();
    } else {
      const __m512i ih = _mm512_add_epi32(_mm512_set1_epi32(int32_t(ih0)), vkh);
      const __m512i iw = _mm512_add_epi32(_mm512_set1_epi32(int32_t(iw0)), vkw);
      __mmask16 m = _mm512_mask_cmpge_epi32_mask(lanes, ih, zero);
      m = _mm512_mask_cmplt_epi32_mask(m, ih, vh);
      m = _mm512_mask_cmpge_epi32_mask(m, iw, zero);
      m = _mm512_mask_cmplt_epi32_mask(m, iw, vw);
      const __m512i at = _mm512_add_epi32(
          _mm512_mullo_epi32(_mm512_add_epi32(_mm512_mullo_epi32(ih, vw), iw), vc), vch);
      v = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m, at, image, 4);
    }
    _mm512_mask_storeu_ps(dst + q * mr, store, v);
    if (++ow == g.ow) {
      ow = 0;
      if (++oh == g.oh) oh = 0, ++n;
    }
  }
}
#endif

void pack_tap_rows(const void* ctx, int64_t i0, int64_t mc, int64_t p0, int64_t kc, int mr,
                   float* dst) {
  const TapRows& tr = *static_cast<const TapRows*>(ctx);
  if (kc == 0) return; // no pixels (N*OH*OW = 0): dk = 0, nothing to read
  for (int64_t s = 0; s * mr < mc; ++s, dst += mr * kc) {
    const int rows = int(std::min<int64_t>(mr, mc - s * mr));
#if defined(__x86_64__)
    if (tr.gather && mr <= 16) {
      pack_tap_rows_avx512(tr, i0 + s * mr, rows, p0, kc, mr, dst);
      continue;
    }
#endif
    pack_tap_rows_scalar(tr, i0 + s * mr, rows, p0, kc, mr, dst);
  }
}

bool is_pointwise(const SjConvArgs& g) {
  return g.kh == 1 && g.kw == 1 && g.stride_h == 1 && g.stride_w == 1 && g.pad_top == 0 &&
         g.pad_left == 0 && g.oh == g.h && g.ow == g.w;
}

SjGemmArgs gemm_args(int64_t m, int64_t n, int64_t k, float* c, int64_t ldc, void* pool) {
  SjGemmArgs a{};
  a.m = m;
  a.n = n;
  a.k = k;
  a.c = c;
  a.ldc = ldc;
  a.pool = pool;
  return a;
}

// ---- direct kernels for few input channels (a first layer: C = 1 or 3) ------------------------
//
// With K = KH*KW*C that small, the GEMM stores each tile of C after a handful of FMA steps and
// packing a row (KW copies of C floats) costs as much as its arithmetic. These kernels read x
// in place instead: the F outputs of a pixel sit in the vector lanes and each tap broadcasts
// one x value. Every element is still one FMA chain over (kh, kw, c) (conv2d) or over the
// pixels in order (backprop_kernel) from 0, padding taps adding fma(0, w, acc), exactly as
// the GEMM path computes it, so the bits match it and do not depend on the thread count.

constexpr int64_t kDirectTaps = 32;   // K = KH*KW*C/g up to which the direct kernels run
constexpr int64_t kDirectPixels = 4;  // conv2d: pixels per register tile (4 x F/16 accumulators)
constexpr int64_t kDirectBlock = 256; // pixels per epilogue block (and per thread chunk)

bool use_direct(const SjConvArgs& g) {
  return gemm_path() == GemmPath::avx512 && g.groups == 1 && g.f % 16 == 0 && g.f <= 64 &&
         g.kh * g.kw * g.c <= kDirectTaps && !is_pointwise(g);
}

// Output pixels in order, as (n, oh, ow), without a division per pixel.
struct Pixel {
  const SjConvArgs& g;
  int64_t n, oh, ow;
  Pixel(const SjConvArgs& args, int64_t m)
      : g(args), n(m / (args.oh * args.ow)), oh((m / args.ow) % args.oh), ow(m % args.ow) {}
  void next() {
    if (++ow < g.ow) return;
    ow = 0;
    if (++oh < g.oh) return;
    oh = 0;
    ++n;
  }
  // The offset in x of tap (kh, kw) (channel 0), or -1 for a padding tap.
  int64_t tap(int64_t kh, int64_t kw) const {
    const int64_t ih = oh * g.stride_h - g.pad_top + kh * g.dilation_h;
    const int64_t iw = ow * g.stride_w - g.pad_left + kw * g.dilation_w;
    return ih >= 0 && ih < g.h && iw >= 0 && iw < g.w ? ((n * g.h + ih) * g.w + iw) * g.c : -1;
  }
  void taps(int64_t* off) const {
    for (int64_t kh = 0; kh < g.kh; ++kh)
      for (int64_t kw = 0; kw < g.kw; ++kw)
        *off++ = tap(kh, kw);
  }
  // Tap (0, 0)'s offset when every tap is inside (unpadded).
  int64_t base() const { return ((n * g.h + oh * g.stride_h) * g.w + ow * g.stride_w) * g.c; }
  // No padding tap anywhere: each tap's offset is the pixel's base plus relative(t).
  static bool unpadded(const SjConvArgs& g) {
    return g.pad_top == 0 && g.pad_left == 0 &&
           (g.oh - 1) * g.stride_h + (g.kh - 1) * g.dilation_h < g.h &&
           (g.ow - 1) * g.stride_w + (g.kw - 1) * g.dilation_w < g.w;
  }
  static int64_t relative(const SjConvArgs& g, int64_t t) {
    return ((t / g.kw) * g.dilation_h * g.w + (t % g.kw) * g.dilation_w) * g.c;
  }
};

// y rows [m0, m1) for output columns [f0, f0 + 16 * FV).
template <int FV>
__attribute__((target("avx512f"))) void direct_conv_rows(const SjConvArgs& g, int64_t m0,
                                                         int64_t m1, int64_t f0) {
  const int64_t taps = g.kh * g.kw, C = g.c;
  const bool unpadded = Pixel::unpadded(g);
  int64_t rel[kDirectTaps];
  for (int64_t t = 0; t < taps; ++t)
    rel[t] = Pixel::relative(g, t);
  int64_t off[kDirectPixels][kDirectTaps];
  Pixel pixel(g, m0);
  for (int64_t m = m0; m < m1; m += kDirectPixels) {
    const int64_t rows = std::min(kDirectPixels, m1 - m);

#pragma GCC unroll 8
    for (int64_t r = 0; r < kDirectPixels; ++r) {
      if (r < rows && unpadded) {
        const int64_t base = pixel.base();
        for (int64_t t = 0; t < taps; ++t)
          off[r][t] = base + rel[t];
        pixel.next();
      } else if (r < rows) {
        pixel.taps(off[r]);
        pixel.next();
      } else {
        std::fill(off[r], off[r] + taps, -1);
      }
    }
    __m512 acc[kDirectPixels][FV];

#pragma GCC unroll 8
    for (int64_t r = 0; r < kDirectPixels; ++r)

#pragma GCC unroll 8
      for (int v = 0; v < FV; ++v)
        acc[r][v] = _mm512_setzero_ps();
    for (int64_t t = 0; t < taps; ++t)
      for (int64_t c = 0; c < C; ++c) {
        const float* w = g.kernel + (t * C + c) * g.f + f0;
        __m512 wv[FV];

#pragma GCC unroll 8
        for (int v = 0; v < FV; ++v)
          wv[v] = _mm512_loadu_ps(w + 16 * v);

#pragma GCC unroll 8
        for (int64_t r = 0; r < kDirectPixels; ++r) {
          const __m512 xb = _mm512_set1_ps(off[r][t] >= 0 ? g.x[off[r][t] + c] : 0.0f);

#pragma GCC unroll 8
          for (int v = 0; v < FV; ++v)
            acc[r][v] = _mm512_fmadd_ps(xb, wv[v], acc[r][v]);
        }
      }
    for (int64_t r = 0; r < rows; ++r)

#pragma GCC unroll 8
      for (int v = 0; v < FV; ++v)
        _mm512_storeu_ps(g.y + (m + r) * g.f + f0 + 16 * v, acc[r][v]);
  }
}

template <int FV>
void direct_conv_block(const SjConvArgs& g, int64_t m0, int64_t m1) {
  direct_conv_rows<FV>(g, m0, m1, 0);
  if (g.epilogue) g.epilogue(g.epilogue_ctx, m0, m1, 0, g.f);
}

void direct_conv(const SjConvArgs& g) {
  const int64_t M = g.n * g.oh * g.ow, blocks = (M + kDirectBlock - 1) / kDirectBlock;
  auto run = [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) {
      const int64_t m0 = b * kDirectBlock, m1 = std::min(M, m0 + kDirectBlock);
      switch (g.f / 16) {
      case 1:
        direct_conv_block<1>(g, m0, m1);
        break;
      case 2:
        direct_conv_block<2>(g, m0, m1);
        break;
      case 3:
        direct_conv_block<3>(g, m0, m1);
        break;
      default:
        direct_conv_block<4>(g, m0, m1);
        break;
      }
    }
  };
  auto* pool = static_cast<ThreadPool*>(g.pool);
  // Threads from the GEMM's 2 MFLOP, for the same reason.
  if (pool && 2.0 * double(M) * double(g.f) * double(g.kh * g.kw * g.c) >= 2e6)
    pool->parallel_for(blocks, run);
  else
    run(0, blocks);
}

// dk[(t, c), f] (row stride lddk) = the sum over output pixels [k0, k1) of x's tap (t, c)
// times dy[pixel, f]: one FMA chain per element, over the pixels in order, from 0. Four rows
// (t, c) at a time stream the pixels, their 4 x FV accumulators in registers.
template <int FV, int kRows>
__attribute__((target("avx512f"))) void
direct_backprop_kernel_fv(const SjConvArgs& g, int64_t k0, int64_t k1, float* dk, int64_t lddk) {
  const int64_t C = g.c, rows = g.kh * g.kw * C;
  for (int64_t i0 = 0; i0 < rows; i0 += kRows) {
    const int64_t nr = std::min<int64_t>(kRows, rows - i0);
    int64_t kh[kRows], kw[kRows], ch[kRows];

#pragma GCC unroll 8
    for (int r = 0; r < kRows; ++r) {
      const int64_t i = std::min(i0 + r, rows - 1);
      ch[r] = i % C;
      kw[r] = (i / C) % g.kw;
      kh[r] = i / C / g.kw;
    }
    __m512 acc[kRows][FV];

#pragma GCC unroll 8
    for (int r = 0; r < kRows; ++r)

#pragma GCC unroll 8
      for (int v = 0; v < FV; ++v)
        acc[r][v] = _mm512_setzero_ps();
    const bool unpadded = Pixel::unpadded(g);
    int64_t rel[kRows];
    for (int r = 0; r < kRows; ++r)
      rel[r] = ch[r] + Pixel::relative(g, kh[r] * g.kw + kw[r]);
    Pixel pixel(g, k0);
    for (int64_t m = k0; m < k1; ++m, pixel.next()) {
      const float* dy = g.y + m * g.f;
      if (unpadded) {
        const float* x = g.x + pixel.base();
        __m512 d[FV];

#pragma GCC unroll 8
        for (int v = 0; v < FV; ++v)
          d[v] = _mm512_loadu_ps(dy + 16 * v);

#pragma GCC unroll 16
        for (int r = 0; r < kRows; ++r) {
          const __m512 xb = _mm512_set1_ps(x[rel[r]]);

#pragma GCC unroll 8
          for (int v = 0; v < FV; ++v)
            acc[r][v] = _mm512_fmadd_ps(xb, d[v], acc[r][v]);
        }
        continue;
      }
      __m512 d[FV];

#pragma GCC unroll 8
      for (int v = 0; v < FV; ++v)
        d[v] = _mm512_loadu_ps(dy + 16 * v);

#pragma GCC unroll 8
      for (int r = 0; r < kRows; ++r) {
        const int64_t o = pixel.tap(kh[r], kw[r]);
        const __m512 xb = _mm512_set1_ps(o >= 0 ? g.x[o + ch[r]] : 0.0f);

#pragma GCC unroll 8
        for (int v = 0; v < FV; ++v)
          acc[r][v] = _mm512_fmadd_ps(xb, d[v], acc[r][v]);
      }
    }
    for (int r = 0; r < nr; ++r)

#pragma GCC unroll 8
      for (int v = 0; v < FV; ++v)
        _mm512_storeu_ps(dk + (i0 + r) * lddk + 16 * v, acc[r][v]);
  }
}

void direct_backprop_kernel(const SjConvArgs& g, int64_t k0, int64_t k1, float* dk, int64_t lddk) {
  switch (g.f / 16) {
  // As many rows (t, c) per pass as leave registers for dy: 9 rows (a 3x3 tap set) when F <= 32.
  case 1:
    return direct_backprop_kernel_fv<1, 9>(g, k0, k1, dk, lddk);
  case 2:
    return direct_backprop_kernel_fv<2, 9>(g, k0, k1, dk, lddk);
  case 3:
    return direct_backprop_kernel_fv<3, 6>(g, k0, k1, dk, lddk);
  default:
    return direct_backprop_kernel_fv<4, 4>(g, k0, k1, dk, lddk);
  }
}

} // namespace

} // namespace sj

using sj::gemm_args;

extern "C" void sj_conv2d_f32(const SjConvArgs* args) {
  const SjConvArgs& g = *args;
  const int64_t G = g.groups, cg = g.c / G, fg = g.f / G;
  const int64_t M = g.n * g.oh * g.ow, K = g.kh * g.kw * cg;
  if (sj::use_direct(g)) return sj::direct_conv(g);
  for (int64_t gi = 0; gi < G; ++gi) {
    SjGemmArgs a = gemm_args(M, fg, K, g.y + gi * fg, g.f, g.pool);
    a.b = g.kernel + gi * fg;
    a.ldb = g.f;
    if (G == 1) {
      a.epilogue = g.epilogue;
      a.epilogue_ctx = g.epilogue_ctx;
    }
    if (sj::is_pointwise(g)) { // y = x . kernel
      a.a = g.x + gi * cg;
      a.lda = g.c;
      sj_gemm_f32(&a);
      continue;
    }
    const bool gather = sj::use_gather() && g.n * g.h * g.w * g.c < sj::kGatherLimit;
    sj::PixelRows rows{&g, g.x, g.c, gi * cg, cg, false, gather};
    sj::gemm_f32_pack_a(a, sj::pack_pixel_rows_as_rows, &rows, true);
  }
}

extern "C" void sj_conv2d_backprop_input_f32(const SjConvArgs* args) {
  const SjConvArgs& g = *args;
  const int64_t G = g.groups, cg = g.c / G, fg = g.f / G, taps = g.kh * g.kw;
  const int64_t M = g.n * g.h * g.w, K = taps * fg;
  for (int64_t gi = 0; gi < G; ++gi) {
    SjGemmArgs a = gemm_args(M, cg, K, g.x + gi * cg, g.c, g.pool);
    if (sj::is_pointwise(g)) { // dx = dy . kernel^T, kernel [C/g, F] read transposed in place
      a.a = g.y + gi * fg;
      a.lda = g.f;
      a.b = g.kernel + gi * fg;
      a.ldb = g.f;
      a.trans_b = 1;
      sj_gemm_f32(&a);
      continue;
    }
    // B[(tap, f), ci] = kernel[tap, ci, gi*fg + f]: the group's kernel transposed per tap
    // (small: KH*KW*C/g*F/g floats), so the GEMM packs it as an ordinary row-major B.
    float* kt = sj::tls_kernel_t.get(size_t(std::max<int64_t>(1, taps * fg * cg)));
    for (int64_t t = 0; t < taps; ++t)
      for (int64_t ci = 0; ci < cg; ++ci) {
        const float* src = g.kernel + (t * cg + ci) * g.f + gi * fg;
        for (int64_t f = 0; f < fg; ++f)
          kt[(t * fg + f) * cg + ci] = src[f];
      }
    a.b = kt;
    a.ldb = cg;
    const bool gather = sj::use_gather() && g.n * g.oh * g.ow * g.f < sj::kGatherLimit;
    sj::PixelRows rows{&g, g.y, g.f, gi * fg, fg, true, gather};
    sj::gemm_f32_pack_a(a, sj::pack_pixel_rows_as_rows, &rows, true);
  }
}

namespace sj {
namespace {

// The K = N*OH*OW chunk of a backprop_kernel whose result is too small to split over threads.
constexpr int64_t kKernelChunk = 4096;
constexpr int64_t kSmallKernel = 4096; // result elements (per group) below which K is split

void backprop_kernel_group(const SjConvArgs& g, int64_t gi, int64_t k0, int64_t k1, float* dk,
                           int64_t lddk, void* pool) {
  const int64_t cg = g.c / g.groups, fg = g.f / g.groups;
  if (use_direct(g)) return direct_backprop_kernel(g, k0, k1, dk, lddk);
  SjGemmArgs a = gemm_args(g.kh * g.kw * cg, fg, k1 - k0, dk, lddk, pool);
  a.b = g.y + k0 * g.f + gi * fg;
  a.ldb = g.f;
  if (is_pointwise(g)) { // dk = x^T . dy
    a.a = g.x + k0 * g.c + gi * cg;
    a.lda = g.c;
    a.trans_a = 1;
    sj_gemm_f32(&a);
    return;
  }
  // The packer reads pixels k0 + p of dy: shift x's view by whole images only, so it sees
  // pixel indices from 0 (k0 is a multiple of OH*OW when chunked; else 0).
  SjConvArgs shifted = g;
  const int64_t images = k0 / (g.oh * g.ow);
  shifted.x = g.x + images * g.h * g.w * g.c;
  const bool gather = use_gather() && g.n * g.h * g.w * g.c < kGatherLimit;
  TapRows rows{&shifted, gi * cg, cg, gather};
  gemm_f32_pack_a(a, pack_tap_rows, &rows);
}

} // namespace
} // namespace sj

extern "C" void sj_conv2d_backprop_kernel_f32(const SjConvArgs* args) {
  const SjConvArgs& g = *args;
  const int64_t G = g.groups, cg = g.c / G, fg = g.f / G;
  const int64_t M = g.kh * g.kw * cg, K = g.n * g.oh * g.ow, image = g.oh * g.ow;
  // Chunks of whole images, about kKernelChunk pixels each (a function of the shape only).
  const int64_t chunk =
      std::max<int64_t>(1, sj::kKernelChunk / std::max<int64_t>(1, image)) * image;
  const int64_t chunks = chunk > 0 ? (K + chunk - 1) / chunk : 0;
  auto* pool = static_cast<sj::ThreadPool*>(g.pool);
  for (int64_t gi = 0; gi < G; ++gi) {
    float* dk = g.kernel + gi * fg;
    if (M * fg > sj::kSmallKernel || chunks < 2) {
      sj::backprop_kernel_group(g, gi, 0, K, dk, g.f, g.pool);
      continue;
    }
    // Partial sums per chunk, each one FMA chain over its pixels in order, then added in chunk
    // order: the same bits whichever thread computed which chunk.
    float* partial = sj::tls_partials.get(size_t(chunks * M * fg));
    auto run = [&](int64_t c0, int64_t c1) {
      for (int64_t ch = c0; ch < c1; ++ch)
        sj::backprop_kernel_group(g, gi, ch * chunk, std::min(K, (ch + 1) * chunk),
                                  partial + ch * M * fg, fg, nullptr);
    };
    if (pool)
      pool->parallel_for(chunks, run);
    else
      run(0, chunks);
    for (int64_t i = 0; i < M; ++i)
      for (int64_t f = 0; f < fg; ++f) {
        float s = partial[i * fg + f];
        for (int64_t ch = 1; ch < chunks; ++ch)
          s += partial[(ch * M + i) * fg + f];
        dk[i * g.f + f] = s;
      }
  }
}

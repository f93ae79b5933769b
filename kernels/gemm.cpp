// sj_gemm_f32: the GotoBLAS / BLIS loop nest around a register-blocked micro-kernel.
//
//   for jc in N step NC:              B panel, KC x NC (L3)
//     for pc in K step KC:            pack B[pc:pc+KC, jc:jc+NC] into NR-wide slivers
//       for ic in M step MC:          pack A[ic:ic+MC, pc:pc+KC] into MR-high slivers (L2)
//         for jr in NC step NR:       one B sliver, KC x NR (L1)
//           for ir in MC step MR:     micro-kernel: MR x NR of C in registers
//
// Packing reads op(A) and op(B) through their transpose flags, so the micro-kernel only ever
// sees unit-stride slivers and all four transpose combinations run at the same speed.
// Threads split C into column (or row) ranges and run this whole nest on their own range
// with their own pack buffers: K is never split, so every element of C is the same FMA chain
// whatever the thread count (see gemm.h).
#include "kernels/gemm.h"

#include "kernels/aligned_buffer.h"
#include "kernels/gemm_microkernels.h"
#include "kernels/thread_pool.h"

#include <algorithm>
#if defined(__x86_64__)
#include <immintrin.h>
#endif
#include <atomic>
#include <cstring>
#include <new>

namespace sj {

namespace {

using gemm_detail::MicroKernel;

#if defined(__x86_64__)
// GCC 12 warns falsely about its own AVX-512 intrinsics (the _mm512_undefined_ps inside the
// shuffles), as kernels/attention.cpp and bench/CMakeLists.txt note.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

// Transposes a 16 x 16 block held as 16 row vectors in place, with the in-lane unpacks and
// shuffles and the cross-lane 128-bit shuffles of the classic 4-stage network (64 shuffles
// for 256 elements, against a load and a store per element for the scalar transpose).
__attribute__((target("avx512f"))) inline void transpose_16x16(__m512 r[16]) {
  __m512 t[16];
  for (int i = 0; i < 16; i += 2) { // pairs of rows: a0 b0 a1 b1 | a4 b4 a5 b5 | ...
    t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
  }
  for (int i = 0; i < 16; i += 4) { // quads: a0 b0 c0 d0 | a4 b4 c4 d4 | ...
    r[i] = _mm512_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(1, 0, 1, 0));
    r[i + 1] = _mm512_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(3, 2, 3, 2));
    r[i + 2] = _mm512_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(1, 0, 1, 0));
    r[i + 3] = _mm512_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(3, 2, 3, 2));
  }
  for (int h = 0; h < 16; h += 8) // 128-bit lanes 0, 2 and 1, 3 of row quads h and h + 4
    for (int i = 0; i < 4; ++i) {
      t[h + i] = _mm512_shuffle_f32x4(r[h + i], r[h + 4 + i], 0x88);
      t[h + 4 + i] = _mm512_shuffle_f32x4(r[h + i], r[h + 4 + i], 0xdd);
    }
  for (int i = 0; i < 8; ++i) { // column i from quads 0 and 8; column i + 8 likewise
    r[i] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0x88);
    r[i + 8] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0xdd);
  }
}

// Steps [0, kc) of `rows` <= 16 rows ld apart, transposed: element p of row w to
// dst[p*Stride + w] for w < Lanes (lanes past `rows` zero). 16 steps at a time: 16 row loads,
// one register transpose, 16 masked stores.
template <int Stride, int Lanes>
__attribute__((target("avx512f"))) void transpose_rows(const float* src, int64_t ld, int64_t kc,
                                                       int rows, float* dst) {
  static_assert(Lanes <= 16 && Lanes <= Stride);
  const __mmask16 lanes = __mmask16((1u << Lanes) - 1);
  for (int64_t p = 0; p < kc; p += 16) {
    const int steps = int(std::min<int64_t>(16, kc - p));
    const __mmask16 in_row = __mmask16((1u << steps) - 1);
    __m512 r[16];
    for (int w = 0; w < 16; ++w)
      r[w] = w < rows ? _mm512_maskz_loadu_ps(in_row, src + w * ld + p) : _mm512_setzero_ps();
    transpose_16x16(r);
    for (int j = 0; j < steps; ++j)
      _mm512_mask_storeu_ps(dst + (p + j) * Stride, lanes, r[j]);
  }
}

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
#endif

// Packs a panel of an operand into slivers of W: positions [w0, w0+wc) along the sliver's width
// (rows of op(A), columns of op(B)) by steps [p0, p0+kc) along K, as ceil(wc/W) slivers of kc
// steps of W consecutive floats (positions past wc are zeros). `step_major`: element (p, w) is
// x[p*ld + w] (W contiguous floats per step); otherwise x[w*ld + p] (a transpose).
template <int W, bool Avx512>
void pack_panel(const float* x, int64_t ld, bool step_major, int64_t w0, int64_t wc, int64_t p0,
                int64_t kc, float* dst) {
  for (int64_t wr = 0; wr < wc; wr += W, dst += W * kc) {
    const int width = int(std::min<int64_t>(W, wc - wr));
    if (step_major) {
      const float* src = x + p0 * ld + w0 + wr;
      for (int64_t p = 0; p < kc; ++p, src += ld) {
        float* d = dst + p * W;
        if (width == W) { // a fixed-size copy: a few vector moves, not a call
          std::memcpy(d, src, W * sizeof(float));
        } else {
          std::memcpy(d, src, size_t(width) * sizeof(float));
          std::memset(d + width, 0, size_t(W - width) * sizeof(float));
        }
      }
    } else {
      const float* src = x + (w0 + wr) * ld + p0;
#if defined(__x86_64__)
      if constexpr (Avx512 && W <= 16) {
        transpose_rows<W, W>(src, ld, kc, width, dst);
        continue;
      } else if constexpr (Avx512 && W % 16 == 0) {
        // Each 16 rows of the sliver as a transpose of their own, into lanes h .. h + 15.
        for (int h = 0; h < W; h += 16)
          transpose_rows<W, 16>(src + h * ld, ld, kc, std::clamp(width - h, 0, 16), dst + h);
        continue;
      }
#endif
      if (width == W) {
        for (int64_t p = 0; p < kc; ++p)
          for (int w = 0; w < W; ++w)
            dst[p * W + w] = src[w * ld + p];
      } else {
        for (int64_t p = 0; p < kc; ++p)
          for (int w = 0; w < W; ++w)
            dst[p * W + w] = w < width ? src[w * ld + p] : 0.0f;
      }
    }
  }
}

// Rows [i0, i0+mc) x columns [p0, p0+kc) of op(A), in slivers of MR rows.
template <int MR, bool Avx512>
void pack_a(const SjGemmArgs& g, int64_t i0, int64_t mc, int64_t p0, int64_t kc, float* dst) {
  pack_panel<MR, Avx512>(g.a, g.lda, g.trans_a != 0, i0, mc, p0, kc, dst);
}

// Rows [p0, p0+kc) x columns [j0, j0+nc) of op(B), in slivers of NR columns.
template <int NR, bool Avx512>
void pack_b(const SjGemmArgs& g, int64_t p0, int64_t kc, int64_t j0, int64_t nc, float* dst) {
  pack_panel<NR, Avx512>(g.b, g.ldb, g.trans_b == 0, j0, nc, p0, kc, dst);
}

using PackA = void (*)(const SjGemmArgs&, int64_t, int64_t, int64_t, int64_t, float*);
using PackB = PackA;

// One micro-kernel and the blocking tuned for it.
struct Kernel {
  GemmPath path;
  int mr, nr;
  int64_t mc, kc, nc;     // multiples of mr, -, nr
  MicroKernel micro;      // A as a[p*lda + i]: packed slivers, or A^T in place
  MicroKernel micro_rows; // A as a[i*lda + p]: A in place
  PackA pack_a;
  PackB pack_b;
};

template <GemmPath P, int MR, int NR, int64_t MC, int64_t KC, int64_t NC>
constexpr Kernel make_kernel(MicroKernel micro, MicroKernel micro_rows) {
  static_assert(MC % MR == 0 && NC % NR == 0);
  constexpr bool avx512 = P == GemmPath::avx512; // the machine has AVX-512: register transposes
  return {P, MR, NR, MC, KC, NC, micro, micro_rows, &pack_a<MR, avx512>, &pack_b<NR, avx512>};
}

// Blocking (docs/performance.md): KC x NR of B stays in L1 while the MC x KC block of A streams
// from L2; the KC x NC panel of B lives in L3.
#if defined(__x86_64__)
constexpr Kernel kAvx512 = make_kernel<GemmPath::avx512, 14, 32, 14 * 24, 256, 4096>(
    &gemm_detail::micro_avx512<14, 2, false>, &gemm_detail::micro_avx512<14, 2, true>);
// For C at most 16 wide (a classifier's logits): one zmm per row, so no lanes are wasted on a
// second vector, and 16 rows so that power-of-two batches have no ragged sliver.
constexpr Kernel kAvx512Narrow = make_kernel<GemmPath::avx512, 16, 16, 16 * 20, 256, 4096>(
    &gemm_detail::micro_avx512<16, 1, false>, &gemm_detail::micro_avx512<16, 1, true>);
constexpr Kernel kAvx2 = make_kernel<GemmPath::avx2, 6, 16, 6 * 24, 256, 4096>(
    &gemm_detail::micro_avx2<6, 2, false>, &gemm_detail::micro_avx2<6, 2, true>);
#endif
constexpr Kernel kPortable = make_kernel<GemmPath::portable, 4, 8, 4 * 32, 256, 2048>(
    &gemm_detail::micro_portable<4, 8, false>, &gemm_detail::micro_portable<4, 8, true>);

// Epilogue blocks are MC rows x at most this many columns: small enough to still be in L2
// when the epilogue runs (MC * 128 floats = 172 KB at MC = 336).
constexpr int64_t kEpilogueCols = 128;

// Below this many flops a GEMM runs on the calling thread: waking a worker (~1-5 us, more if it
// is asleep) would cost more than it saves.
constexpr double kParallelFlops = 2e6;

thread_local AlignedBuffer tls_pack_a, tls_pack_b;

// The whole loop nest on rows [m0, m1) x columns [n0, n1) of C, on the calling thread.
// `custom_a`, when set, packs op(A) instead of pack_a (an implicit GEMM: g.a is not read), as
// slivers or, with `custom_rows`, as rows (see gemm.h).
void gemm_range(const Kernel& kn, const SjGemmArgs& g, int64_t m0, int64_t m1, int64_t n0,
                int64_t n1, GemmPackA custom_a, const void* custom_ctx, bool custom_rows) {
  const int64_t K = g.k, MR = kn.mr, NR = kn.nr;
  const int64_t kc_max = std::max<int64_t>(1, std::min(K, kn.kc));
  float* bp = tls_pack_b.get(size_t(kc_max * round_up(std::min(n1 - n0, kn.nc), NR)));
  float* ap = tls_pack_a.get(size_t(kc_max * round_up(std::min(m1 - m0, kn.mc), MR)));
  // A packed sliver is read once per B sliver: with a single B sliver (narrow C, as in the
  // last layer of a classifier) packing A would cost as much as the product, so full slivers
  // of A are read in place and only the ragged last one is packed (so no row past M is read).
  const bool a_in_place = n1 - n0 <= NR && !custom_a;

  for (int64_t jc = n0; jc < n1; jc += kn.nc) {
    const int64_t nc = std::min(kn.nc, n1 - jc);
    // K == 0 still takes one pass with kc = 0: C is zeroed (or kept) and the epilogue runs.
    for (int64_t pc = 0; pc == 0 || pc < K; pc += kn.kc) {
      const int64_t kc = std::min(kn.kc, K - pc);
      const bool last = pc + kc >= K;
      const bool load = g.accumulate || pc > 0;
      kn.pack_b(g, pc, kc, jc, nc, bp);
      for (int64_t ic = m0; ic < m1; ic += kn.mc) {
        const int64_t mc = std::min(kn.mc, m1 - ic);
        const int64_t mc_full = a_in_place ? mc / MR * MR : 0;
        if (custom_a)
          custom_a(custom_ctx, ic, mc, pc, kc, int(MR), ap);
        else if (mc_full < mc)
          kn.pack_a(g, ic + mc_full, mc - mc_full, pc, kc, ap);
        float* c_block = g.c + ic * g.ldc + jc;
        for (int64_t je = 0; je < nc; je += kEpilogueCols) {
          const int64_t je1 = std::min(nc, je + kEpilogueCols);
          for (int64_t jr = je; jr < je1; jr += NR) {
            const int n = int(std::min(NR, nc - jr));
            for (int64_t ir = 0; ir < mc; ir += MR) {
              float* c = c_block + ir * g.ldc + jr;
              const float* c_next = ir + MR < mc   ? c + MR * g.ldc
                                    : jr + NR < nc ? c_block + jr + NR
                                                   : c;
              const int m = int(std::min(MR, mc - ir));
              if (custom_rows)
                kn.micro_rows(kc, ap + ir * kc, kc, bp + jr * kc, c, g.ldc, m, n, load, c_next);
              else if (ir >= mc_full)
                kn.micro(kc, ap + (ir - mc_full) * kc, MR, bp + jr * kc, c, g.ldc, m, n, load,
                         c_next);
              else if (g.trans_a)
                kn.micro(kc, g.a + pc * g.lda + ic + ir, g.lda, bp + jr * kc, c, g.ldc, m, n, load,
                         c_next);
              else
                kn.micro_rows(kc, g.a + (ic + ir) * g.lda + pc, g.lda, bp + jr * kc, c, g.ldc, m, n,
                              load, c_next);
            }
          }
          if (last && g.epilogue) g.epilogue(g.epilogue_ctx, ic, ic + mc, jc + je, jc + je1);
        }
      }
    }
  }
}

bool cpu_supports(GemmPath path) {
#if defined(__x86_64__)
  __builtin_cpu_init();
  switch (path) {
  case GemmPath::avx512:
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
           __builtin_cpu_supports("fma");
  case GemmPath::avx2:
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  case GemmPath::portable:
    return true;
  }
  return false;
#else
  return path == GemmPath::portable;
#endif
}

const Kernel& kernel_for(GemmPath path) {
  switch (path) {
#if defined(__x86_64__)
  case GemmPath::avx512:
    return kAvx512;
  case GemmPath::avx2:
    return kAvx2;
#endif
  default:
    return kPortable;
  }
}

GemmPath best_path() {
  for (GemmPath p : {GemmPath::avx512, GemmPath::avx2})
    if (cpu_supports(p)) return p;
  return GemmPath::portable;
}

// The kernel to use for a C `n` columns wide on `path`.
const Kernel& kernel_for(GemmPath path, int64_t n) {
#if defined(__x86_64__)
  if (path == GemmPath::avx512 && n <= kAvx512Narrow.nr) return kAvx512Narrow;
#endif
  (void)n;
  return kernel_for(path);
}

std::atomic<int> active_path{-1}; // a GemmPath, -1 until the first call picks the best

GemmPath active() {
  int p = active_path.load(std::memory_order_relaxed);
  if (p < 0) {
    p = int(best_path());
    active_path.store(p, std::memory_order_relaxed);
  }
  return GemmPath(p);
}

// How many of `units` (slivers of a dimension) thread t of T gets, as a [begin, end) range
// of the dimension `extent`.
std::pair<int64_t, int64_t> split(int64_t extent, int64_t unit, int t, int threads) {
  const int64_t units = (extent + unit - 1) / unit;
  auto [b, e] = ThreadPool::chunk(units, threads, t);
  return {std::min(extent, b * unit), std::min(extent, e * unit)};
}

// The share of the threads' time that is useful when `units` slivers go to `threads` threads.
double balance(int64_t units, int threads) {
  return double(units) / double((units + threads - 1) / threads * threads);
}

} // namespace

bool gemm_path_supported(GemmPath path) { return cpu_supports(path); }
GemmPath gemm_path() { return active(); }
bool force_gemm_path(GemmPath path) {
  if (!cpu_supports(path)) return false;
  active_path.store(int(path), std::memory_order_relaxed);
  return true;
}
void reset_gemm_path() { active_path.store(int(best_path()), std::memory_order_relaxed); }
const char* gemm_path_name(GemmPath path) {
  switch (path) {
  case GemmPath::avx512:
    return "avx512";
  case GemmPath::avx2:
    return "avx2";
  case GemmPath::portable:
    return "portable";
  }
  return "?";
}

} // namespace sj

namespace sj {
namespace {

void gemm(const SjGemmArgs& g, GemmPackA custom_a, const void* custom_ctx, bool custom_rows) {
  if (g.m <= 0 || g.n <= 0) return;
  const Kernel& kn = kernel_for(active(), g.n);
  auto* pool = static_cast<ThreadPool*>(g.pool);
  int threads = pool ? pool->size() : 1;
  if (2.0 * double(g.m) * double(g.n) * double(g.k) < kParallelFlops) threads = 1;
  const int64_t units_m = (g.m + kn.mr - 1) / kn.mr, units_n = (g.n + kn.nr - 1) / kn.nr;
  // Split the dimension that spreads more evenly; ties go to N (each thread then packs only
  // its share of B, the bigger operand in training shapes).
  const bool split_n = balance(units_n, threads) >= balance(units_m, threads);
  if (threads > (split_n ? units_n : units_m)) threads = int(split_n ? units_n : units_m);
  if (threads <= 1) {
    gemm_range(kn, g, 0, g.m, 0, g.n, custom_a, custom_ctx, custom_rows);
    return;
  }
  pool->parallel_for(threads, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      if (split_n) {
        auto [n0, n1] = split(g.n, kn.nr, int(t), threads);
        if (n0 < n1) gemm_range(kn, g, 0, g.m, n0, n1, custom_a, custom_ctx, custom_rows);
      } else {
        auto [m0, m1] = split(g.m, kn.mr, int(t), threads);
        if (m0 < m1) gemm_range(kn, g, m0, m1, 0, g.n, custom_a, custom_ctx, custom_rows);
      }
    }
  });
}

} // namespace

void gemm_f32_pack_a(const SjGemmArgs& args, GemmPackA pack_a, const void* ctx, bool rows) {
  gemm(args, pack_a, ctx, rows);
}

} // namespace sj

extern "C" void sj_gemm_f32(const SjGemmArgs* args) { sj::gemm(*args, nullptr, nullptr, false); }

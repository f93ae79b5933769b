// sj_gemm_f32 against Eigen's GEMM, in GFLOP/s, on 1 and 2 threads. Shapes are M x K x N
// (C[M,N] = A[M,K] B[K,N]): the issue-7 target shape, square 2048, and the MLP layers of the
// examples in all four transpose combinations (forward NN, backward NT and TN).
// This file is compiled with -O3 -march=native -fopenmp (bench/CMakeLists.txt) so that Eigen,
// whose kernels are chosen at compile time, runs at its best; sj_gemm_f32 is the library as
// built, dispatching at run time.
#include "kernels/gemm.h"
#include "kernels/thread_pool.h"

#include <Eigen/Core>
#include <benchmark/benchmark.h>
#include <immintrin.h>
#include <memory>
#include <string>
#include <vector>

namespace {

using RowMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

struct Shape {
  int64_t m, k, n;
  bool all_transposes;
};

const Shape kShapes[] = {
    {256, 1024, 4096, false}, {2048, 2048, 2048, false}, {128, 784, 512, true},
    {128, 512, 512, true},    {32, 100, 10, true},       {128, 512, 10, true},
    {768, 128, 384, true},    {768, 512, 128, true},
};

// Operands stored as the transpose flags say: A is M x K or K x M, B is K x N or N x K.
struct Operands {
  RowMatrix a, b, c;
  Operands(const Shape& s, bool ta, bool tb)
      : a(RowMatrix::Random(ta ? s.k : s.m, ta ? s.m : s.k)),
        b(RowMatrix::Random(tb ? s.n : s.k, tb ? s.k : s.n)), c(RowMatrix::Zero(s.m, s.n)) {}
};

sj::ThreadPool* pool_of(int threads) {
  static std::unique_ptr<sj::ThreadPool> pools[3];
  if (!pools[threads]) pools[threads] = std::make_unique<sj::ThreadPool>(threads);
  return threads == 1 ? nullptr : pools[threads].get();
}

void set_flops(benchmark::State& state, const Shape& s) {
  state.counters["GFLOP/s"] = benchmark::Counter(2e-9 * double(s.m * s.n * s.k),
                                                 benchmark::Counter::kIsIterationInvariantRate);
}

void bm_sj(benchmark::State& state, Shape s, bool ta, bool tb, int threads) {
  Operands o(s, ta, tb);
  SjGemmArgs args{s.m, s.n,        s.k,        o.a.data(), o.a.cols(),
                  ta,  o.b.data(), o.b.cols(), tb,         o.c.data(),
                  s.n, 0,          nullptr,    nullptr,    pool_of(threads)};
  for (auto _ : state) {
    sj_gemm_f32(&args);
    benchmark::ClobberMemory();
  }
  set_flops(state, s);
}

void bm_eigen(benchmark::State& state, Shape s, bool ta, bool tb, int threads) {
  Operands o(s, ta, tb);
  Eigen::setNbThreads(threads);
  for (auto _ : state) {
    if (ta && tb)
      o.c.noalias() = o.a.transpose() * o.b.transpose();
    else if (ta)
      o.c.noalias() = o.a.transpose() * o.b;
    else if (tb)
      o.c.noalias() = o.a * o.b.transpose();
    else
      o.c.noalias() = o.a * o.b;
    benchmark::ClobberMemory();
  }
  set_flops(state, s);
}

// The machine's f32 FMA peak on one thread, measured now (the cores may be shared): 24
// independent zmm FMA chains, enough to cover latency x throughput on any AVX-512 core.
__attribute__((target("avx512f"))) void bm_fma_peak(benchmark::State& state) {
  constexpr int kChains = 24, kSteps = 1 << 16;
  __m512 acc[kChains];
  for (int i = 0; i < kChains; ++i)
    acc[i] = _mm512_set1_ps(float(i));
  const __m512 x = _mm512_set1_ps(0.999f), y = _mm512_set1_ps(1e-7f);
  for (auto _ : state) {
    for (int s = 0; s < kSteps; ++s)
#pragma GCC unroll 24
      for (int i = 0; i < kChains; ++i)
        acc[i] = _mm512_fmadd_ps(acc[i], x, y);
    for (int i = 0; i < kChains; ++i)
      benchmark::DoNotOptimize(acc[i]);
  }
  state.counters["GFLOP/s"] = benchmark::Counter(2e-9 * 16 * kChains * kSteps,
                                                 benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(bm_fma_peak)->Name("gemm/fma_peak/T1")->UseRealTime()->MinTime(0.2);

// gemm/<impl>/T<threads>/<M>x<K>x<N>/<NN|NT|TN|TT>
const bool registered = [] {
  for (const Shape& s : kShapes)
    for (int t = 0; t < 4; ++t) {
      bool ta = t & 2, tb = t & 1;
      if (t && !s.all_transposes) continue;
      std::string dims = std::to_string(s.m) + "x" + std::to_string(s.k) + "x" +
                         std::to_string(s.n) + "/" + (ta ? "T" : "N") + (tb ? "T" : "N");
      for (int threads : {1, 2}) {
        std::string suffix = "/T" + std::to_string(threads) + "/" + dims;
        benchmark::RegisterBenchmark(("gemm/sj" + suffix).c_str(), bm_sj, s, ta, tb, threads)
            ->UseRealTime()
            ->MinTime(0.2);
        benchmark::RegisterBenchmark(("gemm/eigen" + suffix).c_str(), bm_eigen, s, ta, tb, threads)
            ->UseRealTime()
            ->MinTime(0.2);
      }
    }
  return true;
}();

} // namespace

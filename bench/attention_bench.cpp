// The f32 attention kernels of kernels/attention.h on the gpt workload's attention (nanoGPT's CPU
// configuration: batch 12, 4 heads, context 64, head size 32, causal), in GFLOP/s, on 1 and 2
// threads:
//
//   attention/T<threads>/gpt_b12_h4_t64_d32/<fwd|bwd>
//
// fwd is sj_attention_f32 (the attention op); bwd is what its gradient rule runs: attention_lse
// (the forward kernel without the output) then attention_backprop. FLOPs are the useful ones,
// the usual count: 2 products (q kᵀ, p v) forward and 5 backward (q kᵀ again, dy vᵀ, pᵀ dy,
// ds k, dsᵀ q), each 2 D flops per visible (query, key) pair -- T (T + 1) / 2 pairs per head
// under the causal mask. The kernels do more than that count: the backward recomputes q kᵀ and
// dy vᵀ once more in its dq pass, and the lse is a third forward pass.
#include "kernels/attention.h"
#include "kernels/thread_pool.h"

#include <benchmark/benchmark.h>
#include <cmath>
#include <memory>
#include <vector>

namespace {

constexpr int64_t kB = 12, kH = 4, kT = 64, kD = 32;

std::vector<float> values(int64_t n, float scale) {
  std::vector<float> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i)
    v[size_t(i)] = scale * std::sin(0.37f * float(i) + 0.1f);
  return v;
}

sj::ThreadPool* pool_of(int threads) {
  static std::unique_ptr<sj::ThreadPool> pools[3];
  if (!pools[threads]) pools[threads] = std::make_unique<sj::ThreadPool>(threads);
  return threads == 1 ? nullptr : pools[threads].get();
}

void bm_attention(benchmark::State& state, bool backward, int threads) {
  int64_t n = kB * kH * kT * kD;
  std::vector<float> q = values(n, 1), k = values(n, 0.9f), v = values(n, 1.1f);
  std::vector<float> y = values(n, 0), dy = values(n, 0.5f), lse = values(kB * kH * kT, 0);
  std::vector<float> packed = values(3 * n, 0);
  SjAttentionArgs a{};
  a.b = kB, a.h = kH, a.tq = kT, a.tk = kT, a.d = kD, a.causal = 1;
  a.scale = 1 / std::sqrt(double(kD));
  a.q = q.data(), a.k = k.data(), a.v = v.data();
  a.lse = lse.data(), a.out = y.data();
  a.pool = pool_of(threads);
  sj_attention_f32(&a); // y and lse for the backward
  SjAttentionArgs lse_only = a, back = a;
  lse_only.out = nullptr;
  back.y = y.data(), back.dy = dy.data(), back.out = packed.data();
  for (auto _ : state) {
    if (backward) {
      sj_attention_f32(&lse_only);
      sj_attention_backprop_f32(&back);
    } else {
      sj_attention_f32(&a);
    }
    benchmark::ClobberMemory();
  }
  double pairs = double(kB * kH) * double(kT * (kT + 1) / 2);
  double flops = (backward ? 5 : 2) * 2.0 * double(kD) * pairs;
  state.counters["GFLOP/s"] =
      benchmark::Counter(1e-9 * flops, benchmark::Counter::kIsIterationInvariantRate);
}

const bool registered = [] {
  for (int threads : {1, 2})
    for (bool backward : {false, true}) {
      std::string name = "attention/T" + std::to_string(threads) + "/gpt_b12_h4_t64_d32/" +
                         (backward ? "bwd" : "fwd");
      benchmark::RegisterBenchmark(name.c_str(), bm_attention, backward, threads)->UseRealTime();
    }
  return true;
}();

} // namespace

// One training step of each workload (bench/workloads.h), timed three ways in the same binary:
// stepjit's compiled step, the hand-written Eigen step on 1 and 2 threads, and the reference
// interpreter for scale. Every step runs on fresh batches (cycling through a few) and reports
// GFLOP/s and the percentage of the GEMM peak (bench/gemm_peak.h) it reaches.
#include "eigen_reference.h"
#include "gemm_peak.h"
#include "runtime/compiled_step.h"
#include "runtime/interpreter.h"
#include "workloads.h"

#include <benchmark/benchmark.h>
#include <chrono>

namespace bench {
namespace {

constexpr int kBatches = 4;

// Runs `step` once per benchmark iteration and reports GFLOP/s and the percentage of the GEMM
// peak on `threads` threads, over the wall time of the loop (the benchmarks' own time is real
// time too; plain numbers print better than rate counters, which append "/s").
template <typename Step>
void time_steps(benchmark::State& state, const Workload& w, int threads, Step step) {
  auto start = std::chrono::steady_clock::now();
  for (auto _ : state)
    step();
  std::chrono::duration<double> seconds = std::chrono::steady_clock::now() - start;
  double gflops = step_flops(w.spec) * double(state.iterations()) / seconds.count() * 1e-9;
  state.counters["GFLOP/s"] = gflops;
  state.counters["pct_peak"] = 100 * gflops / gemm_peak_gflops(threads);
}

void stepjit_step(benchmark::State& state, const Workload* w) {
  const int threads = int(state.range(0));
  auto step =
      sj::CompiledStep::compile(training_graph(*w), {.use_cache = false, .threads = threads});
  auto batches = make_batches(*w, kBatches);
  int i = 0;
  time_steps(state, *w, threads,
             [&] { benchmark::DoNotOptimize(step.run(batches[i++ % kBatches])); });
  state.counters["compile_ms"] = step.compile_ms();
  state.counters["arena_bytes"] = double(step.arena_bytes());
  state.counters["arena_lower_bound_bytes"] = double(step.arena_lower_bound_bytes());
}

void eigen_step(benchmark::State& state, const Workload* w) {
  const int threads = int(state.range(0));
  check_eigen_against_stepjit(*w, threads);
  EigenMlpStep step = make_eigen_step(*w, threads);
  auto batches = make_batches(*w, kBatches);
  int i = 0;
  time_steps(state, *w, threads,
             [&] { benchmark::DoNotOptimize(run_eigen_step(step, batches[i++ % kBatches])); });
}

void interpreter_step(benchmark::State& state, const Workload* w) {
  sj::Interpreter interpreter(training_graph(*w));
  auto batches = make_batches(*w, kBatches);
  int i = 0;
  time_steps(state, *w, 1,
             [&] { benchmark::DoNotOptimize(interpreter.run(batches[i++ % kBatches])); });
}

// Square sgemm at the peak size: the denominator of every pct_peak.
void gemm_peak(benchmark::State& state) {
  const int threads = int(state.range(0));
  SquareSgemm gemm(kPeakSize);
  auto start = std::chrono::steady_clock::now();
  for (auto _ : state)
    gemm.run(threads);
  std::chrono::duration<double> seconds = std::chrono::steady_clock::now() - start;
  state.counters["GFLOP/s"] = gemm.flops() * double(state.iterations()) / seconds.count() * 1e-9;
  state.counters["best_GFLOP/s"] = gemm_peak_gflops(threads);
}

// Real time throughout: the Eigen steps run on OpenMP threads whose CPU time the main thread's
// clock would not see.
const bool registered = [] {
  benchmark::RegisterBenchmark("gemm_peak/2048", gemm_peak)
      ->ArgName("threads")
      ->Arg(1)
      ->Arg(2)
      ->UseRealTime()
      ->Unit(benchmark::kMillisecond);
  for (const Workload& w : workloads()) {
    benchmark::RegisterBenchmark(("stepjit/" + w.name).c_str(), stepjit_step, &w)
        ->ArgName("threads")
        ->Arg(1)
        ->Arg(2)
        ->UseRealTime()
        ->Unit(benchmark::kMicrosecond);
    benchmark::RegisterBenchmark(("eigen/" + w.name).c_str(), eigen_step, &w)
        ->ArgName("threads")
        ->Arg(1)
        ->Arg(2)
        ->UseRealTime()
        ->Unit(benchmark::kMicrosecond);
    auto* interpreted =
        benchmark::RegisterBenchmark(("interpreter/" + w.name).c_str(), interpreter_step, &w)
            ->UseRealTime()
            ->Unit(benchmark::kMicrosecond);
    if (w.name == "wide") interpreted->Iterations(2); // seconds per step
  }
  return true;
}();

} // namespace
} // namespace bench

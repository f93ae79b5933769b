// Compile latency (graph to callable native step) and step time, compiled vs interpreted, for
// the seed model and a 3-layer MLP, each with its Adam training step.
#include "frontend/optimizers.h"
#include "graph/parse.h"
#include "runtime/compiled_step.h"
#include "runtime/interpreter.h"

#include <benchmark/benchmark.h>
#include <cmath>
#include <fstream>
#include <sstream>

namespace {

sj::Graph training_step(const std::string& file, double lr) {
  std::ifstream in(std::string(SJ_SOURCE_DIR) + "/examples/models/" + file);
  std::stringstream text;
  text << in.rdbuf();
  sj::Graph g = sj::parse(text.str(), file);
  sj::Adam({.learning_rate = lr}).minimize(sj::Value(g, *g.output("loss")), [&] {
    std::vector<sj::Value> vars;
    for (sj::ValueId v : g.nodes_of(sj::Op::variable))
      vars.emplace_back(g, v);
    return vars;
  }());
  return g;
}

std::map<std::string, sj::Tensor> feeds(const sj::Graph& g) {
  std::map<std::string, sj::Tensor> f;
  for (sj::ValueId v : g.nodes_of(sj::Op::input)) {
    sj::Tensor t(g.type(v));
    sj::visit_dtype(t.dtype(), [&]<typename T>() {
      T* p = t.data<T>();
      for (int64_t i = 0; i < t.num_elements(); ++i)
        p[i] = std::is_floating_point_v<T> ? T(std::sin(double(i) * 0.37)) : T(i % 10);
    });
    f.emplace(g.node(v).name, std::move(t));
  }
  return f;
}

void BM_Compile(benchmark::State& state, const char* file, double lr) {
  sj::Graph g = training_step(file, lr);
  int64_t arena = 0;
  for (auto _ : state) {
    auto step = sj::CompiledStep::compile(g, {.use_cache = false});
    arena = step.arena_bytes();
  }
  state.counters["arena_bytes"] = double(arena);
}
BENCHMARK_CAPTURE(BM_Compile, seed_adam, "seed.sj", 0.01)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Compile, mlp_adam, "mlp.sj", 1e-3)->Unit(benchmark::kMillisecond);

void BM_CompiledStep(benchmark::State& state, const char* file, double lr) {
  sj::Graph g = training_step(file, lr);
  auto step = sj::CompiledStep::compile(g);
  auto f = feeds(g);
  for (auto _ : state)
    benchmark::DoNotOptimize(step.run(f));
}
BENCHMARK_CAPTURE(BM_CompiledStep, seed_adam, "seed.sj", 0.01)->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_CompiledStep, mlp_adam, "mlp.sj", 1e-3)->Unit(benchmark::kMicrosecond);

void BM_InterpretedStep(benchmark::State& state, const char* file, double lr) {
  sj::Graph g = training_step(file, lr);
  sj::Interpreter interpreter(g);
  auto f = feeds(g);
  for (auto _ : state)
    benchmark::DoNotOptimize(interpreter.run(f));
}
BENCHMARK_CAPTURE(BM_InterpretedStep, seed_adam, "seed.sj", 0.01)->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_InterpretedStep, mlp_adam, "mlp.sj", 1e-3)->Unit(benchmark::kMicrosecond);

} // namespace

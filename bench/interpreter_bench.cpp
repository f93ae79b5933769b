// The reference interpreter on the seed model, for scale: compiled steps will be compared
// against it (and against hand-written Eigen) in the same binary.
#include "graph/parse.h"
#include "runtime/interpreter.h"

#include <benchmark/benchmark.h>
#include <fstream>
#include <sstream>

namespace {

sj::Graph load(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return sj::parse(text.str(), path);
}

sj::Tensor filled(sj::Shape shape, float value) {
  sj::Tensor t({sj::DType::f32, std::move(shape)});
  float* p = t.data<float>();
  for (int64_t i = 0; i < t.num_elements(); ++i)
    p[i] = value * float(i % 7 - 3);
  return t;
}

void BM_InterpreterSeedStep(benchmark::State& state) {
  sj::Interpreter interpreter(load(SJ_SOURCE_DIR "/examples/models/seed.sj"));
  std::map<std::string, sj::Tensor> feeds{{"x", filled({32, 100}, 0.1f)},
                                          {"y", filled({32, 1}, 0.2f)}};
  for (auto _ : state)
    benchmark::DoNotOptimize(interpreter.run(feeds));
  state.SetLabel("seed forward, batch 32");
}
BENCHMARK(BM_InterpreterSeedStep)->Unit(benchmark::kMicrosecond);

} // namespace

BENCHMARK_MAIN();

// What compiled_step.h promises about threads, exercised the way ThreadSanitizer can check it
// (the ThreadSanitizer build of scripts/test.sh runs this file with the thread pool's and the
// threaded steps' tests; the other builds run it as an ordinary test):
//   - compile() may be called from several threads at once (the code cache is locked);
//   - different CompiledSteps of one graph may run concurrently, each on its own pool;
//   - steps that share a pool or variables run in turn, from different threads too.
// Every result is compared bit for bit with the same step run alone on one thread.
#include "graph/parse.h"
#include "kernels/thread_pool.h"
#include "runtime/compiled_step.h"

#include <cmath>
#include <gtest/gtest.h>
#include <mutex>
#include <thread>
#include <vector>

namespace sj {
namespace {

// A small training step whose GEMMs and long loops are split over the pool: a Dense layer of
// 64 units on a batch of 64 (the GEMM splits once M*N*K passes the kernel's threshold), a
// squared loss and an SGD update of the weights.
Graph step_graph() {
  return parse(R"(graph threads {
  %x = input : f32[64,128]
  %y = input : f32[64,64]
  %w = variable {init = glorot_uniform, seed = 3} : f32[128,64]
  %h = matmul(%x, %w) : f32[64,64]
  %d = sub(%h, %y) : f32[64,64]
  %l = square(%d) : f32[64,64]
  %loss = reduce_mean(%l) {axes = [0, 1]} : f32[]
  %g = matmul(%x, %d) {transpose_a = true} : f32[128,64]
  %lr = constant {value = 0.001} : f32[]
  %s = mul(%g, %lr) : f32[128,64]
  %w1 = sub(%w, %s) : f32[128,64]
  %a = assign(%w, %w1) : f32[128,64]
  output loss = %loss
}
)",
               "threads_test.sj");
}

std::map<std::string, Tensor> feeds() {
  std::map<std::string, Tensor> f;
  for (const char* name : {"x", "y"}) {
    Tensor t({DType::f32, {64, name[0] == 'x' ? 128 : 64}});
    float* p = t.data<float>();
    for (int64_t i = 0; i < t.num_elements(); ++i)
      p[i] = float(std::sin(double(i) * (name[0] == 'x' ? 0.37 : 0.11)));
    f.emplace(name, std::move(t));
  }
  return f;
}

// The weights after `steps` steps of a fresh step compiled with `options`.
Tensor train(const Graph& g, CompileOptions options, int steps) {
  auto step = CompiledStep::compile(g, options);
  auto f = feeds();
  for (int i = 0; i < steps; ++i)
    step.run(f);
  return step.variable("w");
}

TEST(Threads, ConcurrentCompilesAndRunsOfOneGraphGiveTheSingleThreadedBits) {
  Graph g = step_graph();
  Tensor alone = train(g, {.use_cache = false, .threads = 1}, 3);
  std::vector<Tensor> results(3);
  std::vector<std::thread> threads;
  for (size_t t = 0; t < results.size(); ++t)
    threads.emplace_back([&, t] { results[t] = train(g, {.threads = 2}, 3); });
  for (std::thread& t : threads)
    t.join();
  for (const Tensor& r : results)
    EXPECT_TRUE(r == alone);
}

TEST(Threads, StepsSharingAPoolRunInTurnFromDifferentThreads) {
  Graph g = step_graph();
  Tensor alone = train(g, {.threads = 1}, 4);
  auto pool = std::make_shared<ThreadPool>(2);
  auto a = CompiledStep::compile(g, {.pool = pool});
  auto b = CompiledStep::compile(g, {.pool = pool});
  auto f = feeds();
  std::mutex turn; // the documented rule: steps sharing a pool must not run concurrently
  auto run = [&](CompiledStep& s) {
    for (int i = 0; i < 4; ++i) {
      std::lock_guard lock(turn);
      s.run(f);
    }
  };
  std::thread ta([&] { run(a); });
  std::thread tb([&] { run(b); });
  ta.join();
  tb.join();
  EXPECT_TRUE(a.variable("w") == alone);
  EXPECT_TRUE(b.variable("w") == alone);
}

TEST(Threads, APoolCreatedOnOneThreadRunsCallsFromAnother) {
  auto pool = std::make_shared<ThreadPool>(3);
  std::vector<int64_t> out(1000, 0);
  std::thread user([&] {
    for (int round = 1; round <= 20; ++round)
      pool->parallel_for(int64_t(out.size()), [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i)
          out[size_t(i)] += round;
      });
  });
  user.join();
  for (int64_t v : out)
    EXPECT_EQ(v, 210);
  pool.reset(); // destroyed on this thread, right after the workers' last call
}

} // namespace
} // namespace sj

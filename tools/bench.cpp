// stepjit bench: times the training step of any model file on generated data, and reports the
// figures of bench/ (median and best microseconds per step, compile time, arena, GFLOP/s).
#include "graph/initializers.h"
#include "tools/commands.h"
#include "tools/common.h"

#include <algorithm>
#include <chrono>
#include <fmt/format.h>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sys/resource.h>

namespace sj::cli {

namespace {

// The exclusive bound of an integer input's values: the classes of the softmax cross-entropy or
// one_hot it feeds, or the rows of the table it gathers from; 2 otherwise.
int64_t integer_bound(const sj::Graph& g, sj::ValueId input) {
  for (sj::ValueId v = 0; v < g.size(); ++v) {
    const sj::Node& n = g.node(v);
    if (n.operands.empty()) continue;
    if (n.op == sj::Op::softmax_cross_entropy && n.operands[1] == input)
      return g.type(n.operands[0]).shape.back();
    if (n.op == sj::Op::one_hot && n.operands[0] == input) return n.attrs.integer("depth");
    if (n.op == sj::Op::gather && n.operands.size() > 1 && n.operands[1] == input)
      return g.type(n.operands[0]).shape[0];
  }
  return 2;
}

// `count` different feeds of every input: normal floats, integers in range, from fixed seeds
// (fresh batches keep values out of the denormal range a single repeated batch can sink into).
std::vector<std::map<std::string, sj::Tensor>> generated_feeds(const sj::Graph& g, int count) {
  std::vector<std::map<std::string, sj::Tensor>> feeds(count);
  for (int i = 0; i < count; ++i)
    for (sj::ValueId v : g.nodes_of(sj::Op::input)) {
      const sj::TensorType& type = g.type(v);
      uint64_t seed = 1000 * uint64_t(i) + v;
      if (sj::is_float(type.dtype)) {
        feeds[i].emplace(g.node(v).name, sj::random_normal(type, seed));
        continue;
      }
      int64_t bound = type.dtype == sj::DType::boolean ? 2 : integer_bound(g, v);
      sj::Tensor t(type);
      sj::visit_dtype(type.dtype, [&]<typename T>() {
        for (int64_t e = 0; e < t.num_elements(); ++e)
          t.data<T>()[e] = static_cast<T>(
              static_cast<int64_t>(sj::random_uniform01(seed, uint64_t(e)) * double(bound)));
      });
      feeds[i].emplace(g.node(v).name, std::move(t));
    }
  return feeds;
}

// The floating-point operations of the step's matrix products: 2 M N K per product.
double matmul_flops(const sj::Graph& g) {
  double flops = 0;
  for (sj::ValueId v : g.nodes_of(sj::Op::matmul)) {
    const sj::Node& n = g.node(v);
    const sj::Shape& a = g.type(n.operands[0]).shape;
    int64_t k = n.attrs.flag("transpose_a") ? a[a.size() - 2] : a.back();
    flops += 2.0 * double(n.type.num_elements()) * double(k);
  }
  return flops;
}

} // namespace

int run_bench(const std::string& file, const BenchFlags& flags, GradientRequest request,
              const sj::OptimizerSpec& spec) {
  sj::Graph g = load(file);
  bool kind = std::find(kLossKinds.begin(), kLossKinds.end(), request.loss) != kLossKinds.end();
  if (kind) prepare_loss(g, request, sj::DType::i32);
  auto inputs = g.nodes_of(sj::Op::input);
  if (flags.batch != 0)
    for (sj::ValueId v : inputs) {
      const sj::TensorType& t = g.type(v);
      if (t.rank() == 0 || t.shape[0] != flags.batch)
        throw sj::Error({}, fmt::format("--batch {}: the model's input '{}' is {}: shapes are "
                                        "static, so the batch is the inputs' first dimension",
                                        flags.batch, g.node(v).name, t.str()));
    }
  g = build_step(std::move(g), "train", true, request, spec);
  auto step = sj::CompiledStep::compile(
      g, {.use_cache = false, .threads = flags.threads, .check_numerics = flags.check_numerics});
  auto feeds = generated_feeds(g, 4);

  for (int i = 0; i < std::min(flags.steps, 3); ++i) // warm caches and the pool's threads
    step.run(feeds[i % feeds.size()]);
  std::vector<double> us;
  us.reserve(size_t(flags.steps));
  for (int i = 0; i < flags.steps; ++i) {
    auto start = std::chrono::steady_clock::now();
    step.run(feeds[i % feeds.size()]);
    us.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start)
                     .count());
  }
  std::vector<double> sorted = us;
  std::sort(sorted.begin(), sorted.end());
  double median = sorted[sorted.size() / 2], best = sorted.front();
  double mean = 0;
  for (double u : us)
    mean += u / double(us.size());
  double flops = matmul_flops(step.graph());
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);

  std::cout << fmt::format("{}: {} steps on {} thread{}\n", g.name(), flags.steps, flags.threads,
                           flags.threads == 1 ? "" : "s");
  std::cout << fmt::format("  per step   median {:.1f} us, best {:.1f} us, mean {:.1f} us\n",
                           median, best, mean);
  std::cout << fmt::format("  compile    {:.1f} ms\n", step.compile_ms());
  std::cout << fmt::format("  arena      {} bytes (liveness lower bound {})\n", step.arena_bytes(),
                           step.arena_lower_bound_bytes());
  std::cout << fmt::format("  matmuls    {:.4g} GFLOP per step, {:.1f} GFLOP/s at the median\n",
                           flops * 1e-9, flops * 1e-3 / median);
  std::cout << fmt::format("  peak RSS   {} bytes\n", int64_t(usage.ru_maxrss) * 1024);
  if (flags.json) {
    nlohmann::json j = {{"model", g.name()},
                        {"threads", flags.threads},
                        {"steps", flags.steps},
                        {"median_us", median},
                        {"min_us", best},
                        {"mean_us", mean},
                        {"compile_ms", step.compile_ms()},
                        {"arena_bytes", step.arena_bytes()},
                        {"arena_lower_bound_bytes", step.arena_lower_bound_bytes()},
                        {"gflops", flops * 1e-3 / median},
                        {"matmul_flops_per_step", flops},
                        {"peak_rss_bytes", int64_t(usage.ru_maxrss) * 1024}};
    std::cout << j.dump() << "\n";
  }
  return 0;
}

} // namespace sj::cli

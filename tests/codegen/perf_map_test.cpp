// STEPJIT_PERF_MAP=1: the JIT lists every function it emits in /tmp/perf-<pid>.map, named
// after the ops they compute, with sizes, inside the process's executable memory.
#include "graph/parse.h"
#include "runtime/compiled_step.h"

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <gtest/gtest.h>
#include <map>
#include <sstream>
#include <string>
#include <unistd.h>
#include <vector>

namespace sj {
namespace {

struct Range {
  uint64_t begin, end;
};

// The executable mappings of this process, from /proc/self/maps.
std::vector<Range> executable_mappings() {
  std::vector<Range> ranges;
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line)) {
    std::istringstream in(line);
    std::string span, perms;
    in >> span >> perms;
    if (perms.size() < 3 || perms[2] != 'x') continue;
    size_t dash = span.find('-');
    ranges.push_back({std::stoull(span.substr(0, dash), nullptr, 16),
                      std::stoull(span.substr(dash + 1), nullptr, 16)});
  }
  return ranges;
}

TEST(PerfMap, ListsTheStepsFunctionsInsideExecutableMemory) {
  std::string path = "/tmp/perf-" + std::to_string(getpid()) + ".map";
  std::remove(path.c_str());
  ASSERT_EQ(setenv("STEPJIT_PERF_MAP", "1", 1), 0);
  // A max pool and a bias-gradient-like reduction: large enough for functions of their own.
  Graph g = parse(R"(graph pm {
  %x = input : f32[8,16,16,32]
  %0 = relu(%x) : f32[8,16,16,32]
  %1 = max_pool2d(%0) {window = [2, 2]} : f32[8,8,8,32]
  %2 = reduce_sum(%x) {axes = [0, 1, 2]} : f32[32]
  output y = %1
  output s = %2
})",
                  "pm.sj");
  CompiledStep step = CompiledStep::compile(g);
  unsetenv("STEPJIT_PERF_MAP");

  std::ifstream map(path);
  ASSERT_TRUE(map) << path << " was not written";
  std::map<std::string, Range> functions;
  std::string line;
  while (std::getline(map, line)) {
    std::istringstream in(line);
    std::string start, size, name;
    in >> start >> size >> name;
    ASSERT_FALSE(name.empty()) << line;
    uint64_t begin = std::stoull(start, nullptr, 16), bytes = std::stoull(size, nullptr, 16);
    EXPECT_GT(bytes, 0u) << line;
    functions[name] = {begin, begin + bytes};
  }
  std::remove(path.c_str());
  ASSERT_TRUE(functions.count("sj_step"));
  ASSERT_TRUE(functions.count("sj_step.max_pool2d.v2")) << "functions named after their ops";
  ASSERT_TRUE(functions.count("sj_step.reduce_sum.v3"));
  std::vector<Range> mapped = executable_mappings();
  for (const auto& [name, range] : functions) {
    bool inside = false;
    for (const Range& m : mapped)
      inside |= m.begin <= range.begin && range.end <= m.end;
    EXPECT_TRUE(inside) << name << " is not in executable memory";
  }
  // The code is what runs: the step still computes.
  Tensor x({DType::f32, {8, 16, 16, 32}});
  for (int64_t i = 0; i < x.num_elements(); ++i)
    x.data<float>()[i] = float(i % 7) - 3.0f;
  const auto& out = step.run({{"x", x}});
  const float* p = x.data<float>();
  float want = std::max({0.0f, p[0], p[32], p[16 * 32], p[17 * 32]}); // window (0, 0), channel 0
  EXPECT_EQ(out.at("y").data<float>()[0], want);
}

} // namespace
} // namespace sj

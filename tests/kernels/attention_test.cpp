// The attention kernels (kernels/attention.h), through compiled steps: attention, attention_lse
// and attention_backprop (the gradient) against the reference interpreter on many shapes
// (depths 1-80 with vector tails, Tq != Tk both ways, several query and key blocks, causal and
// masked, broadcast masks, rows without keys, the gpt workload's shape), the same step on 1, 2
// and 3 threads bit-identical (which also compares the backward's whole-head and split
// schedules: the kernel picks by heads per thread), the portable path (forced through the
// GEMM's path switch), and attention against its composition (matmul, softmax, matmul), both
// compiled.
#include "frontend/gradients.h"
#include "kernels/gemm.h"
#include "tests/codegen/jit_check_util.h"

#include <gtest/gtest.h>

namespace sj::test {
using jit_test::element_error;
using jit_test::Tol;
namespace {

struct Shapes {
  std::string name;
  int64_t b, h, tq, tk, d;
  bool causal;
  Shape mask = {}; // {}: none
  // Mask rows (of a [tq, tk] mask) made wholly -inf: rows without keys, in several blocks.
  std::vector<int64_t> hidden_rows = {};
};

std::vector<Shapes> shapes() {
  return {
      {"tiny", 1, 1, 1, 1, 1, false},
      {"d5", 2, 3, 5, 7, 5, false},
      {"d16_causal_square", 1, 2, 16, 16, 16, true},
      {"d17_causal_fewer_queries", 1, 2, 40, 70, 17, true},
      {"d33_causal_more_queries", 2, 1, 70, 40, 33, true},
      {"d64_key_mask", 2, 2, 33, 65, 64, false, {2, 1, 1, 65}},
      {"d80_full_mask", 1, 3, 20, 130, 80, false, {1, 3, 20, 130}},
      {"d8_query_mask_causal", 1, 1, 65, 64, 8, true, {65, 1}},
      {"gpt", 12, 4, 64, 64, 32, true},
      {"d24_hidden_rows_causal", 2, 3, 70, 90, 24, true, {70, 90}, {0, 5, 33, 69}},
      {"d40_many_heads_three_key_blocks", 4, 4, 50, 130, 40, false},
  };
}

void PrintTo(const Shapes& s, std::ostream* os) { *os << s.name; }

struct Case {
  Graph graph{"attention"};
  std::map<std::string, Tensor> feeds;
};

// y = attention(q, k, v), lse, and the gradients of sum(y * dy) with respect to q, k and v (the
// fused backward) as outputs of one graph.
Case make_case(const Shapes& s, uint64_t seed) {
  Case c;
  Graph& g = c.graph;
  Shape qs{s.b, s.h, s.tq, s.d}, ks{s.b, s.h, s.tk, s.d};
  Value q = input(g, "q", {DType::f32, qs});
  Value k = input(g, "k", {DType::f32, ks});
  Value v = input(g, "v", {DType::f32, ks});
  Value dy = input(g, "dy", {DType::f32, qs});
  AttentionOptions o{.causal = s.causal};
  if (!s.mask.empty()) o.mask = input(g, "mask", {DType::f32, s.mask});
  Value y = attention(q, k, v, o);
  output("y", y);
  output("lse", attention_lse(q, k, o));
  std::vector<Value> grads = gradients(reduce_sum(y * dy), {q, k, v});
  output("dq", grads[0]);
  output("dk", grads[1]);
  output("dv", grads[2]);
  Rng rng(seed);
  auto random = [&](const Shape& shape, double lo, double hi) {
    Tensor t({DType::f32, shape});
    for (int64_t i = 0; i < t.num_elements(); ++i)
      t.data<float>()[i] = float(rng.uniform(lo, hi));
    return t;
  };
  c.feeds = {{"q", random(qs, -1, 1)},
             {"k", random(ks, -1, 1)},
             {"v", random(ks, -2, 2)},
             {"dy", random(qs, -1, 1)}};
  if (!s.mask.empty()) {
    Tensor m = random(s.mask, -1, 1);
    for (int64_t i = 3; i < m.num_elements(); i += 7)
      m.data<float>()[i] = -INFINITY;
    for (int64_t i : s.hidden_rows)
      for (int64_t j = 0; j < s.tk; ++j)
        m.data<float>()[i * s.tk + j] = -INFINITY;
    c.feeds["mask"] = m;
  }
  return c;
}

// Compiled vs interpreter, accumulate tolerance with a floor of 4 (sums of O(1) terms).
void expect_close(const std::map<std::string, Tensor>& got,
                  const std::map<std::string, Tensor>& want, const std::string& what) {
  for (const auto& [name, w] : want) {
    const Tensor& t = got.at(name);
    ASSERT_EQ(t.shape(), w.shape()) << what << " " << name;
    std::string bad = compare_tensors(t, w, Tol::accumulate, name, 4);
    EXPECT_EQ(bad, "") << what << " " << name;
  }
}

class AttentionKernels : public ::testing::TestWithParam<Shapes> {};

TEST_P(AttentionKernels, MatchTheInterpreterAndAreBitIdenticalOnAnyThreadCount) {
  Case c = make_case(GetParam(), 2024);
  auto want = Interpreter(c.graph).run(c.feeds);
  std::map<std::string, Tensor> one;
  for (int threads : {1, 2, 3}) {
    auto step = CompiledStep::compile(c.graph, {.threads = threads});
    auto got = step.run(c.feeds);
    expect_close(got, want, fmt::format("{} threads", threads));
    if (threads == 1) {
      one = got;
      continue;
    }
    for (const auto& [name, t] : got)
      EXPECT_TRUE(t == one.at(name)) << name << " on " << threads << " threads";
  }
}

TEST_P(AttentionKernels, MatchTheInterpreterOnThePortablePath) {
  Case c = make_case(GetParam(), 99);
  auto want = Interpreter(c.graph).run(c.feeds);
  ASSERT_TRUE(force_gemm_path(GemmPath::portable));
  auto step = CompiledStep::compile(c.graph, {.threads = 2});
  auto got = step.run(c.feeds);
  reset_gemm_path();
  expect_close(got, want, "portable");
}

INSTANTIATE_TEST_SUITE_P(Shapes, AttentionKernels, ::testing::ValuesIn(shapes()),
                         [](const auto& info) { return info.param.name; });

// attention against softmax(q kᵀ / sqrt(D) + causal) v from matmul and softmax, both compiled
// (and so both also against the interpreter through the cases above and ops_compiled_test).
TEST(AttentionComposition, CompiledAttentionMatchesTheCompiledComposition) {
  for (bool causal : {false, true}) {
    Graph g("composition");
    int64_t b = 2, h = 3, tq = 24, tk = 40, d = 20;
    Value q = input(g, "q", {DType::f32, {b, h, tq, d}});
    Value k = input(g, "k", {DType::f32, {b, h, tk, d}});
    Value v = input(g, "v", {DType::f32, {b, h, tk, d}});
    output("fused", attention(q, k, v, {.causal = causal}));
    Tensor hide({DType::f32, {tq, tk}});
    for (int64_t i = 0; i < tq; ++i)
      for (int64_t j = 0; j < tk; ++j)
        hide.data<float>()[i * tk + j] = !causal || j <= i + tk - tq ? 0.0f : -INFINITY;
    Value s = matmul(q, k, {.transpose_b = true}) * (1 / std::sqrt(double(d))) + constant(g, hide);
    output("composed", matmul(softmax(s), v));
    Rng rng(causal ? 1 : 2);
    std::map<std::string, Tensor> feeds;
    for (auto [name, shape] :
         {std::pair{"q", Shape{b, h, tq, d}}, std::pair{"k", Shape{b, h, tk, d}},
          std::pair{"v", Shape{b, h, tk, d}}}) {
      Tensor t({DType::f32, shape});
      for (int64_t i = 0; i < t.num_elements(); ++i)
        t.data<float>()[i] = float(rng.uniform(-1, 1));
      feeds[name] = t;
    }
    auto out = CompiledStep::compile(g, {.threads = 2}).run(feeds);
    auto interpreted = Interpreter(g).run(feeds);
    const Tensor& fused = out.at("fused");
    for (const Tensor* other : {&out.at("composed"), &interpreted.at("composed")})
      for (int64_t i = 0; i < fused.num_elements(); ++i)
        ASSERT_NEAR(fused.as_double(i), other->as_double(i), 1e-5) << "element " << i;
  }
}

} // namespace
} // namespace sj::test

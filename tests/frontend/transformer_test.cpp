// MultiHeadAttention, PositionEmbedding and TransformerBlock: Keras's variable names and
// layouts, MultiHeadAttention against plain f64 loops (its definition), causality, and a small
// transformer language model that learns, compiled and interpreted alike.
#include "frontend/losses.h"
#include "frontend/optimizers.h"
#include "frontend/transformer.h"
#include "runtime/compiled_step.h"
#include "runtime/interpreter.h"
#include "tests/support/errors.h"
#include "tests/support/variable_names.h"

#include <cmath>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace sj {
namespace {

using ::testing::HasSubstr;

TEST(Transformer, MultiHeadAttentionVariablesAreKeras) {
  Graph g;
  Value x = input(g, "x", {DType::f32, {2, 5, 8}});
  Value mem = input(g, "mem", {DType::f32, {2, 7, 6}});
  MultiHeadAttention mha(2, 3, {.value_dim = 4});
  EXPECT_EQ(mha(x, mem).type().str(), "f32[2,5,8]");
  EXPECT_EQ(test::names_and_types(mha.variables()),
            (std::vector<std::string>{"multi_head_attention_0/query/kernel f32[8,2,3]",
                                      "multi_head_attention_0/key/kernel f32[6,2,3]",
                                      "multi_head_attention_0/value/kernel f32[6,2,4]",
                                      "multi_head_attention_0/attention_output/kernel f32[2,4,8]",
                                      "multi_head_attention_0/query/bias f32[2,3]",
                                      "multi_head_attention_0/key/bias f32[2,3]",
                                      "multi_head_attention_0/value/bias f32[2,4]",
                                      "multi_head_attention_0/attention_output/bias f32[8]"}));
  PositionEmbedding pos(16);
  EXPECT_EQ(pos(x).type().str(), "f32[2,5,8]");
  EXPECT_EQ(test::names_and_types(pos.variables()),
            (std::vector<std::string>{"position_embedding_0/embeddings f32[16,8]"}));
}

// softmax(q kᵀ / sqrt(kd) [+ causal]) v per head, projections and merge written out in f64.
std::vector<double> mha_reference(const Tensor& x, const Interpreter& run, int64_t H, int64_t kd,
                                  bool causal) {
  const int64_t T = x.shape()[1], C = x.shape()[2];
  auto var = [&](const char* n) -> const Tensor& {
    return run.variable(std::string("multi_head_attention_0/") + n);
  };
  const Tensor &wq = var("query/kernel"), &wk = var("key/kernel"), &wv = var("value/kernel"),
               &wo = var("attention_output/kernel"), &bq = var("query/bias"), &bk = var("key/bias"),
               &bv = var("value/bias"), &bo = var("attention_output/bias");
  // proj[t][h][d] = sum_c x[t][c] w[c][h][d] + b[h][d]
  auto proj = [&](const Tensor& w, const Tensor& b) {
    std::vector<double> p(T * H * kd);
    for (int64_t t = 0; t < T; ++t)
      for (int64_t h = 0; h < H; ++h)
        for (int64_t d = 0; d < kd; ++d) {
          double s = b.as_double(h * kd + d);
          for (int64_t c = 0; c < C; ++c)
            s += x.as_double(t * C + c) * w.as_double((c * H + h) * kd + d);
          p[(t * H + h) * kd + d] = s;
        }
    return p;
  };
  std::vector<double> q = proj(wq, bq), k = proj(wk, bk), v = proj(wv, bv);
  std::vector<double> o(T * H * kd, 0.0), y(T * C, 0.0);
  for (int64_t h = 0; h < H; ++h)
    for (int64_t t = 0; t < T; ++t) {
      std::vector<double> s(T);
      double m = -INFINITY, sum = 0;
      for (int64_t j = 0; j < T; ++j) {
        s[j] = -INFINITY;
        if (causal && j > t) continue;
        double dot = 0;
        for (int64_t d = 0; d < kd; ++d)
          dot += q[(t * H + h) * kd + d] * k[(j * H + h) * kd + d];
        s[j] = dot / std::sqrt(double(kd));
        m = std::max(m, s[j]);
      }
      for (int64_t j = 0; j < T; ++j)
        sum += s[j] = std::exp(s[j] - m);
      for (int64_t j = 0; j < T; ++j)
        for (int64_t d = 0; d < kd; ++d)
          o[(t * H + h) * kd + d] += s[j] / sum * v[(j * H + h) * kd + d];
    }
  for (int64_t t = 0; t < T; ++t)
    for (int64_t c = 0; c < C; ++c) {
      double s = bo.as_double(c);
      for (int64_t h = 0; h < H; ++h)
        for (int64_t d = 0; d < kd; ++d)
          s += o[(t * H + h) * kd + d] * wo.as_double((h * kd + d) * C + c);
      y[t * C + c] = s;
    }
  return y;
}

TEST(Transformer, MultiHeadAttentionIsItsDefinition) {
  for (bool causal : {false, true}) {
    Graph g;
    Value x = input(g, "x", {DType::f64, {1, 4, 6}});
    MultiHeadAttention mha(2, 3, {.use_causal_mask = causal});
    output("y", mha(x));
    Interpreter run(g);
    // Non-zero biases, so a missing add shows.
    for (const char* b : {"query/bias", "key/bias", "value/bias", "attention_output/bias"}) {
      std::string name = std::string("multi_head_attention_0/") + b;
      Tensor t = run.variable(name);
      for (int64_t i = 0; i < t.num_elements(); ++i)
        t.data<double>()[i] = 0.1 * double(i + 1);
      run.set_variable(name, t);
    }
    std::vector<double> xs(24);
    for (int i = 0; i < 24; ++i)
      xs[i] = std::sin(0.7 * i);
    Tensor feed = Tensor::from<double>({1, 4, 6}, xs);
    Tensor y = run.run({{"x", feed}}).at("y");
    std::vector<double> want = mha_reference(feed, run, 2, 3, causal);
    for (int64_t i = 0; i < 24; ++i)
      EXPECT_NEAR(y.as_double(i), want[i], 1e-12) << "causal " << causal << ", element " << i;
  }
}

TEST(Transformer, ABlockLanguageModelLearnsCompiledAsInterpreted) {
  Graph g("block_lm");
  const int64_t B = 4, T = 6, V = 5, C = 8;
  Value ids = input(g, "ids", {DType::i32, {B, T}});
  Value next = input(g, "next", {DType::i32, {B, T}});
  Embedding embed(V, C);
  PositionEmbedding pos(T);
  TransformerBlock block(2);
  Dense head(V);
  Value e = embed(ids);
  Value h = e + pos(e);
  Value logits = head(block(h, CallMode::training)); // [B, T, V]
  Value loss = sparse_categorical_crossentropy_from_logits(reshape(logits, {B * T, V}),
                                                           reshape(next, {B * T}));
  output("loss", loss);
  std::vector<Value> vars;
  for (const Layer* l : std::initializer_list<const Layer*>{&embed, &pos, &block, &head})
    for (const Value& v : l->trainable_variables())
      vars.push_back(v);
  EXPECT_EQ(vars.size(), 2u + 2 + 8 + 2 + 4 + 2); // embeddings, norms, attention, dense x2, head
  Adam({.learning_rate = 0.02}).minimize(loss, vars);
  // The next token is (token + 1) % 5.
  std::vector<int32_t> a(B * T), b(B * T);
  for (int64_t i = 0; i < B * T; ++i) {
    a[i] = int32_t((i * 3 + i / T) % V);
    b[i] = (a[i] + 1) % V;
  }
  std::map<std::string, Tensor> feeds = {{"ids", Tensor::from<int32_t>({B, T}, a)},
                                         {"next", Tensor::from<int32_t>({B, T}, b)}};
  CompiledStep step = CompiledStep::compile(g);
  Interpreter run(g);
  std::vector<double> losses;
  for (int s = 0; s < 40; ++s) {
    losses.push_back(step.run(feeds).at("loss").as_double(0));
    if (s < 2) {
      EXPECT_NEAR(run.run(feeds).at("loss").as_double(0), losses.back(), 1e-5);
    }
  }
  EXPECT_LT(losses.back(), 0.2 * losses.front()); // (ln 5 = 1.6 -> ~0.05 when written)
}

TEST(Transformer, MistakesAreExplained) {
  Graph g;
  Value flat = input(g, "flat", {DType::f32, {2, 8}});
  EXPECT_THAT(test::error_of([&] { MultiHeadAttention(2, 4)(flat); }),
              HasSubstr("needs query [B, Tq, C] and value [B, Tk, C'] of one float dtype, got "
                        "f32[2,8] and f32[2,8]"));
  EXPECT_THAT(test::error_of([] { MultiHeadAttention(0, 4); }),
              HasSubstr("num_heads and key_dim must be positive"));
  Value x = input(g, "x", {DType::f32, {2, 9, 6}});
  EXPECT_THAT(
      test::error_of([&] { PositionEmbedding(8)(x); }),
      HasSubstr("PositionEmbedding(8): needs a float [B, T, C] with T <= 8, got f32[2,9,6]"));
  EXPECT_THAT(test::error_of([&] { TransformerBlock(4)(x); }),
              HasSubstr("needs x [B, T, C] with C a multiple of the heads, got f32[2,9,6]"));
}

} // namespace
} // namespace sj

// sj::GPT: GPT-2's variable names, layouts and parameter count; a tiny GPT learns a repeating
// text, compiled and interpreted alike, bit-identical on 1 and 2 threads; the attention's
// causality (a later token cannot change an earlier position's logits).
#include "frontend/gpt.h"
#include "frontend/optimizers.h"
#include "runtime/char_vocabulary.h"
#include "runtime/checkpoint.h"
#include "runtime/compiled_step.h"
#include "runtime/interpreter.h"
#include "runtime/token_batcher.h"
#include "runtime/training.h"
#include "runtime/variables.h"
#include "tests/support/cli.h"
#include "tests/support/errors.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace sj {
namespace {

using ::testing::HasSubstr;

TEST(GPT, VariablesAreGPT2sNamesShapesAndCount) {
  Graph g("gpt2");
  GPT gpt({}); // GPT-2 124M: V 50257, T 1024, 12 layers, 12 heads, 768 channels
  Value logits = gpt(input(g, "tokens", {DType::i32, {1, 8}}));
  EXPECT_EQ(logits.type().str(), "f32[1,8,50257]");
  std::vector<Value> vars = gpt.trainable_variables();
  ASSERT_EQ(vars.size(), 2 + 12 * 12 + 2u);
  auto entry = [&](size_t i) { return vars[i].node().name + " " + vars[i].type().str(); };
  EXPECT_EQ(entry(0), "wte.weight f32[50257,768]");
  EXPECT_EQ(entry(1), "wpe.weight f32[1024,768]");
  std::vector<std::string> block;
  for (size_t i = 2; i < 14; ++i)
    block.push_back(entry(i));
  EXPECT_EQ(block, (std::vector<std::string>{
                       "h.0.ln_1.weight f32[768]", "h.0.ln_1.bias f32[768]",
                       "h.0.attn.c_attn.weight f32[768,2304]", "h.0.attn.c_attn.bias f32[2304]",
                       "h.0.attn.c_proj.weight f32[768,768]", "h.0.attn.c_proj.bias f32[768]",
                       "h.0.ln_2.weight f32[768]", "h.0.ln_2.bias f32[768]",
                       "h.0.mlp.c_fc.weight f32[768,3072]", "h.0.mlp.c_fc.bias f32[3072]",
                       "h.0.mlp.c_proj.weight f32[3072,768]", "h.0.mlp.c_proj.bias f32[768]"}));
  EXPECT_EQ(entry(vars.size() - 3), "h.11.mlp.c_proj.bias f32[768]");
  EXPECT_EQ(entry(vars.size() - 2), "ln_f.weight f32[768]");
  EXPECT_EQ(entry(vars.size() - 1), "ln_f.bias f32[768]");
  int64_t params = 0;
  for (const Value& v : vars)
    params += v.type().num_elements();
  EXPECT_EQ(params, 124439808); // GPT-2 small, logits tied to wte
}

// The load path of GPT-2's own model.safetensors, without the real weights: a file with GPT-2
// 124M's names, shapes and header (__metadata__ {"format": "pt"}, F32, and the attention-mask
// buffers Hugging Face stores beside the weights) loads into sj::GPT's variables.
TEST(GPT, LoadsAGPT2ShapedSafetensorsFile) {
  Graph g("gpt2");
  GPT gpt({});
  gpt(input(g, "tokens", {DType::i32, {1, 4}}));
  std::map<std::string, Tensor> file;
  int64_t k = 0;
  for (const Value& v : gpt.trainable_variables()) {
    Tensor t(v.type());
    float* data = t.data<float>();
    for (int64_t i = 0; i < t.num_elements(); ++i)
      data[i] = float((i + k) % 1000) * 1e-4f;
    file.emplace(v.node().name, std::move(t));
    ++k;
  }
  file.emplace("h.0.attn.bias", Tensor({DType::f32, {1, 1, 64, 64}})); // (1024 x 1024 in GPT-2)
  file.emplace("h.0.attn.masked_bias", Tensor::from<float>({}, {-1e4f}));
  std::string path = test::temp_dir("gpt2_load") + "/model.safetensors";
  write_safetensors(path, file, {{"format", "pt"}});
  EXPECT_EQ(read_safetensors_metadata(path).at("format"), "pt");

  Variables vars(g);
  EXPECT_THAT(test::error_of([&] { load_checkpoint(path, vars); }),
              HasSubstr("h.0.attn.masked_bias"));
  load_checkpoint(path, vars, {.ignore_extra = true});
  EXPECT_EQ(vars.get("wte.weight"), file.at("wte.weight"));
  EXPECT_EQ(vars.get("h.11.mlp.c_proj.weight"), file.at("h.11.mlp.c_proj.weight"));
  EXPECT_EQ(vars.get("ln_f.bias"), file.at("ln_f.bias"));
}

GPTConfig tiny() {
  return {.vocab = 7, .context = 8, .layers = 2, .heads = 2, .channels = 8, .seed = 5};
}

TEST(GPT, AttentionIsCausal) {
  Graph g("causal");
  GPT gpt(tiny());
  Value tokens = input(g, "tokens", {DType::i32, {1, 6}});
  output("logits", gpt(tokens));
  Interpreter run(g);
  Tensor a = Tensor::from<int32_t>({1, 6}, {1, 2, 3, 4, 5, 6});
  Tensor b = Tensor::from<int32_t>({1, 6}, {1, 2, 3, 0, 0, 0}); // only positions 3..5 change
  Tensor la = run.run({{"tokens", a}}).at("logits"), lb = run.run({{"tokens", b}}).at("logits");
  for (int64_t i = 0; i < 3 * 7; ++i) // positions 0..2 see only tokens 0..2
    EXPECT_EQ(la.as_double(i), lb.as_double(i)) << i;
  EXPECT_NE(la, lb);
}

TEST(GPT, ATinyGPTLearnsARepeatingTextBitIdenticalOnOneAndTwoThreads) {
  std::string text;
  for (int i = 0; i < 40; ++i)
    text += "abcdefg";
  CharVocabulary vocab = CharVocabulary::of(text);
  ASSERT_EQ(vocab.size(), 7);
  TokenBatcher data(vocab.encode(text), {.batch_size = 4, .context = 8, .seed = 2});
  Graph g("tiny_gpt");
  GPT gpt(tiny());
  Value x = input(g, "x", {DType::i32, {4, 8}});
  Value y = input(g, "y", {DType::i32, {4, 8}});
  Value loss = gpt.loss(gpt(x, CallMode::training), y);
  output("loss", loss);
  AdamW({.learning_rate = 0.01}).minimize(loss, gpt.trainable_variables());
  std::vector<double> losses[2];
  for (int threads : {1, 2}) {
    CompiledStep step = CompiledStep::compile(g, {.threads = threads});
    for (int64_t s = 0; s < 60; ++s) {
      auto [bx, by] = data.batch(s);
      losses[threads - 1].push_back(step.run({{"x", bx}, {"y", by}}).at("loss").as_double(0));
    }
  }
  EXPECT_EQ(losses[0], losses[1]);
  // ln 7 = 1.95 at the start; the text is deterministic after its first character.
  EXPECT_GT(losses[0].front(), 1.7);
  EXPECT_LT(losses[0].back(), 0.5); // (0.0x when written)
  Interpreter run(g);
  for (int64_t s = 0; s < 2; ++s) {
    auto [bx, by] = data.batch(s);
    EXPECT_NEAR(run.run({{"x", bx}, {"y", by}}).at("loss").as_double(0), losses[0][s], 1e-5);
  }
}

// Training resumed from a checkpoint (weights, AdamW's slots and step counter) continues bit for
// bit as if it had not stopped: the batches are a function of the step, the update of the state.
TEST(GPT, TrainingResumedFromACheckpointIsBitIdentical) {
  std::string text;
  for (int i = 0; i < 30; ++i)
    text += "the quick brown fox ";
  CharVocabulary vocab = CharVocabulary::of(text);
  TokenBatcher data(vocab.encode(text), {.batch_size = 2, .context = 8, .seed = 9});
  Graph g("resume");
  GPT gpt({.vocab = vocab.size(), .context = 8, .layers = 1, .heads = 2, .channels = 8});
  Value x = input(g, "x", {DType::i32, {2, 8}});
  Value y = input(g, "y", {DType::i32, {2, 8}});
  Value loss = gpt.loss(gpt(x, CallMode::training), y);
  output("loss", loss);
  AdamW({.learning_rate = 0.01}).minimize(loss, gpt.trainable_variables());
  auto train = [&](CompiledStep& step, int64_t from, int64_t to) {
    for (int64_t s = from; s < to; ++s) {
      auto [bx, by] = data.batch(s);
      step.run({{"x", bx}, {"y", by}});
    }
  };
  CompiledStep straight = CompiledStep::compile(g, {.use_cache = false});
  train(straight, 0, 6);
  CompiledStep first = CompiledStep::compile(g, {.use_cache = false});
  train(first, 0, 3);
  std::string path = test::temp_dir("gpt_resume") + "/step3.safetensors";
  save_checkpoint(path, first.variables());
  CompiledStep resumed = CompiledStep::compile(g, {.use_cache = false});
  load_checkpoint(path, resumed.variables());
  train(resumed, 3, 6);
  for (const auto& [name, value] : straight.variables().all())
    EXPECT_EQ(resumed.variables().get(name), value) << name;
  EXPECT_NE(first.variables().get("wte.weight"), straight.variables().get("wte.weight"));
}

TEST(GPT, MistakesAreExplained) {
  EXPECT_THAT(test::error_of([] { GPT({.heads = 5, .channels = 768}); }),
              HasSubstr("channels a multiple of heads"));
  Graph g;
  GPT gpt(tiny());
  EXPECT_THAT(test::error_of([&] {
                gpt(input(g, "t", {DType::i32, {1, 9}}));
              }),
              HasSubstr("needs token ids i32 [batch, T] with T <= context = 8, got i32[1,9]"));
}

} // namespace
} // namespace sj

// sj::summarize / sj::summary: parameter counts, FLOPs and rows, computed by hand.
#include "frontend/layers.h"
#include "graph/parse.h"
#include "runtime/summary.h"
#include "tests/support/cli.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace sj {
namespace {

using ::testing::HasSubstr;

Graph model(const std::string& file) {
  return parse(test::read_file(test::source_path(file)), file);
}

TEST(Summary, SeedForwardGraph) {
  ModelSummary s = summarize(model("examples/models/seed.sj"));
  // Dense(100 -> 10): 100 * 10 + 10; Dense(10 -> 1): 10 + 1.
  EXPECT_EQ(s.total_params, 1010 + 11);
  EXPECT_EQ(s.trainable_params, 1021);
  EXPECT_EQ(s.non_trainable_params, 0);
  EXPECT_EQ(s.param_bytes, 1021 * 4);
  // matmul 2*32*10*100, add and relu 320 each, matmul 2*32*1*10, add 32, then the loss: sub,
  // square and the mean over 32 elements.
  EXPECT_EQ(s.forward_flops, 64000 + 320 + 320 + 640 + 32 + 32 + 32 + 32);
  EXPECT_FALSE(s.training);
  EXPECT_EQ(s.backward_flops, 0);
  EXPECT_GT(s.arena_bytes, 0);

  // Rows: the inputs, the two layers (the relu joins dense_0), then the loss's ops.
  ASSERT_EQ(s.rows.size(), 7u);
  EXPECT_EQ(s.rows[0].name, "x");
  EXPECT_EQ(s.rows[1].name, "y");
  EXPECT_EQ(s.rows[2].name, "dense_0");
  EXPECT_TRUE(s.rows[2].is_layer);
  EXPECT_EQ(s.rows[2].ops, (std::vector<std::string>{"matmul", "add", "relu"}));
  EXPECT_EQ(s.rows[2].output.str(), "f32[32,10]");
  EXPECT_EQ(s.rows[2].params, 1010);
  EXPECT_EQ(s.rows[2].flops, 64000 + 320 + 320);
  EXPECT_EQ(s.rows[3].name, "dense_1");
  EXPECT_EQ(s.rows[3].ops, (std::vector<std::string>{"matmul", "add"}));
  EXPECT_EQ(s.rows[3].params, 11);
  EXPECT_EQ(s.rows[4].name, "%4"); // the text form's name of the unnamed sub
  EXPECT_EQ(s.rows[4].ops, (std::vector<std::string>{"sub"}));
  EXPECT_EQ(s.rows[6].name, "loss");
  EXPECT_EQ(s.rows[6].output.str(), "f32[]");
}

TEST(Summary, SeedTrainingStepWithSgd) {
  ModelSummary s =
      summarize(model("examples/models/seed.sj"), {.optimizer = OptimizerSpec{.name = "sgd"}});
  EXPECT_TRUE(s.training);
  EXPECT_EQ(s.optimizer, "sgd");
  EXPECT_EQ(s.forward_flops, 65408);
  // Backward, from d loss / d pred = 2 (pred - y) / 32: the 1/32 (1), times (pred - y) (32),
  // times 2 (32); dense_1/bias sums 32; d relu-output = g W1^T: 2*32*10*1; dW1 = h^T g:
  // 2*10*1*32; the relu mask (a comparison and a select, 320 each); dense_0/bias sums 320;
  // dW0 = x^T g: 2*100*10*32. Reshapes and broadcasts are free.
  EXPECT_EQ(s.backward_flops, 1 + 32 + 32 + 32 + 640 + 640 + 320 + 320 + 320 + 64000);
  // SGD: w - lr * g, 2 per parameter, and the step counter's increment.
  EXPECT_EQ(s.update_flops, 2 * 1021 + 1);
  // The learning rate and the step counter.
  EXPECT_EQ(s.optimizer_params, 2);
}

TEST(Summary, MlpCountsAndAdamState) {
  ModelSummary s = summarize(model("examples/models/mlp.sj"), {.optimizer = OptimizerSpec{}});
  // 784*512 + 512, 512*512 + 512, 512*10 + 10.
  EXPECT_EQ(s.total_params, 401920 + 262656 + 5130);
  EXPECT_EQ(s.trainable_params, 669706);
  // Three matmuls 2*128*512*784, 2*128*512*512, 2*128*10*512; two adds and relus of 128*512;
  // the logits' add 1280; softmax_cross_entropy reads 1280 logits.
  int64_t forward =
      2 * 128 * 512 * 784 + 2 * 128 * 512 * 512 + 2 * 128 * 10 * 512 + 4 * 128 * 512 + 1280 + 1280;
  EXPECT_EQ(s.forward_flops, forward);
  // Backward matmuls: per layer dW = h^T g (as its forward) and, except for the first layer
  // (whose input x is not differentiated), dh = g W^T (as its forward again).
  int64_t backward_matmuls =
      2 * 128 * 512 * 784 + 2 * (2 * 128 * 512 * 512) + 2 * (2 * 128 * 10 * 512);
  EXPECT_GE(s.backward_flops, backward_matmuls);
  EXPECT_LT(s.backward_flops, backward_matmuls + 20 * 128 * 512); // a few elementwise passes
  // Adam: two slots per parameter, plus scalars (step, hyperparameters).
  EXPECT_GE(s.optimizer_params, 2 * 669706);
  EXPECT_LT(s.optimizer_params, 2 * 669706 + 16);
  EXPECT_GT(s.update_flops, 669706 * 5); // several elementwise ops per parameter
  EXPECT_EQ(s.optimizer, "adam");
}

TEST(Summary, StateIsNotTrainable) {
  // Dense(3 -> 4), BatchNormalization (gamma, beta trainable; moving stats assigned in
  // training, so not), Dropout (its i64 counter), Dense(4 -> 1).
  Graph g("bn");
  Value x = input(g, "x", {DType::f32, {8, 3}});
  Sequential net(Dense(4), BatchNormalization(), Dropout(0.5), Dense(1));
  output("loss", reduce_mean(net(x, CallMode::training)));
  ModelSummary s = summarize(g);
  EXPECT_EQ(s.trainable_params, (3 * 4 + 4) + (4 + 4) + (4 + 1));
  EXPECT_EQ(s.non_trainable_params, 4 + 4 + 1); // moving_mean, moving_variance, the counter
  EXPECT_EQ(s.total_params, 29 + 9);
  std::map<std::string, bool> trainable;
  for (const ModelSummary::Variable& v : s.variables)
    trainable[v.name] = v.trainable;
  EXPECT_TRUE(trainable.at("batch_normalization_0/gamma"));
  EXPECT_FALSE(trainable.at("batch_normalization_0/moving_mean"));
  EXPECT_FALSE(trainable.at("batch_normalization_0/moving_variance"));
  std::string text = format_summary(s);
  EXPECT_THAT(text, HasSubstr("Trainable params: 29\n"));
  EXPECT_THAT(text, HasSubstr("Non-trainable params: 9\n"));
  EXPECT_THAT(text,
              ::testing::ContainsRegex("batch_normalization_0/moving_mean +f32\\[4\\] +4  no"));
  // The training step updates only the trainable ones: its slots cover 29 parameters.
  ModelSummary t = summarize(g, {.optimizer = OptimizerSpec{.name = "adam"}});
  EXPECT_GE(t.optimizer_params, 2 * 29);
  EXPECT_LT(t.optimizer_params, 2 * 29 + 16);
}

TEST(Summary, Text) {
  std::string text = summary(model("examples/models/seed.sj"));
  EXPECT_THAT(text, HasSubstr("Model: \"seed\" (the forward graph)\n"));
  EXPECT_THAT(text, ::testing::ContainsRegex("Layer \\(ops\\) +Output shape +Param # +FLOPs"));
  EXPECT_THAT(text, ::testing::ContainsRegex(
                        "dense_0 \\(matmul, add, relu\\) +f32\\[32,10\\] +1,010 +64,640\n"));
  EXPECT_THAT(text, ::testing::ContainsRegex("dense_0/kernel +f32\\[100,10\\] +1,000  yes\n"));
  EXPECT_THAT(text, HasSubstr("Total params: 1,021 (4.0 KiB)\n"));
  EXPECT_THAT(text, HasSubstr("FLOPs per step: 65,408 FLOP forward (the forward graph only"));
  EXPECT_THAT(text, HasSubstr("for the forward graph\n"));
  text = summary(model("examples/models/seed.sj"), {.optimizer = OptimizerSpec{.name = "sgd"}});
  EXPECT_THAT(text, HasSubstr("(the training step: sgd)"));
  EXPECT_THAT(text, HasSubstr("FLOPs per step: 65,408 FLOP forward, 66,337 FLOP backward, "
                              "2,043 FLOP update; 133,788 FLOP in all\n"));
  EXPECT_THAT(text, HasSubstr("for the training step\n"));
}

TEST(Summary, OpsWithoutLayerNames) {
  Graph g = parse("graph g {\n  %x = input : f32[2,3]\n  %w = variable : f32[3,4]\n"
                  "  %0 = matmul(%x, %w) : f32[2,4]\n  %1 = tanh(%0) : f32[2,4]\n"
                  "  %loss = reduce_sum(%1) {axes = [0, 1]} : f32[]\n  output loss = %loss\n}\n",
                  "g.sj");
  ModelSummary s = summarize(g);
  ASSERT_EQ(s.rows.size(), 4u);
  EXPECT_EQ(s.rows[1].name, "%0");
  EXPECT_EQ(s.rows[1].params, 12); // w, read first here
  EXPECT_EQ(s.rows[1].flops, 2 * 8 * 3);
  EXPECT_EQ(s.rows[2].name, "%1");
  EXPECT_EQ(s.rows[2].flops, 8);
  EXPECT_THAT(format_summary(s), ::testing::StartsWith("Model: \"g\" (the forward graph)\n"));
  EXPECT_THAT(format_summary(s), HasSubstr("\nOp "));
}

TEST(Summary, Gpt2DottedNamesAreLayers) {
  // examples/models/gpt.sj names its variables as GPT-2's checkpoints do (h.<i>.ln_1.weight).
  ModelSummary s = summarize(model("examples/models/gpt.sj"));
  auto row = [&](const std::string& name) -> const ModelSummary::Row* {
    for (const ModelSummary::Row& r : s.rows)
      if (r.name == name) return &r;
    return nullptr;
  };
  const ModelSummary::Row* ln = row("h.0.ln_1");
  ASSERT_NE(ln, nullptr);
  EXPECT_TRUE(ln->is_layer);
  EXPECT_EQ(ln->ops, (std::vector<std::string>{"layer_norm"}));
  EXPECT_EQ(ln->params, 2 * 128); // weight and bias of 128 channels
  const ModelSummary::Row* qkv = row("h.0.attn.c_attn");
  ASSERT_NE(qkv, nullptr);
  EXPECT_EQ(qkv->ops, (std::vector<std::string>{"matmul", "add"}));
  EXPECT_EQ(qkv->params, 128 * 384 + 384);
  EXPECT_EQ(qkv->output.str(), "f32[12,64,384]");
  // 2 * (12 * 64 tokens) * 384 * 128 for the product, one per element for the bias.
  EXPECT_EQ(qkv->flops, 2 * 768 * 384 * 128 + 768 * 384);
}

TEST(Summary, ErrorsName) {
  Graph g = model("examples/models/seed.sj");
  try {
    summarize(g, {.optimizer = OptimizerSpec{}, .loss = "nope"});
    FAIL();
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("graph 'seed' has no output named 'nope' to minimize (its "
                                    "outputs: pred, loss)"));
  }
}

} // namespace
} // namespace sj

// A GPT (GPT-2's architecture: learned token and position embeddings, pre-LN transformer blocks
// of causal self-attention and a GELU MLP, a final LayerNorm, logits tied to the token
// embedding), built as one graph value from token ids.
//
//   sj::GPT gpt({.vocab = 65, .context = 64, .layers = 4, .heads = 4, .channels = 128});
//   sj::Value logits = gpt(tokens, sj::CallMode::training);   // tokens i32 [B, T], T <= context
//   sj::Value loss = gpt.loss(logits, targets);                 // targets i32 [B, T]
//   auto vars = gpt.trainable_variables();
//
// Its variables are named and laid out exactly as Hugging Face's GPT-2 safetensors files
// (docs/layers.md): `wte.weight` [V, C], `wpe.weight` [T, C], `h.<i>.ln_1.weight|bias`,
// `h.<i>.attn.c_attn.weight` [C, 3C] (q, k, v in that order) and `.bias`,
// `h.<i>.attn.c_proj.weight` [C, C] and `.bias`, `h.<i>.ln_2.*`, `h.<i>.mlp.c_fc.weight`
// [C, 4C] and `.bias`, `h.<i>.mlp.c_proj.weight` [4C, C] and `.bias`, `ln_f.weight|bias`; so
// GPT-2's own `model.safetensors` loads into it (load_checkpoint with ignore_extra: the file
// also holds attention-mask buffers). Initialized as GPT-2: weights normal(0, 0.02), the two
// residual projections normal(0, 0.02 / sqrt(2 * layers)), biases 0, LayerNorm weights 1.
#pragma once

#include "frontend/layers.h"

#include <memory>
#include <string>
#include <vector>

namespace sj {

struct GPTConfig {
  int64_t vocab = 50257;
  int64_t context = 1024; ///< the longest sequence: wpe's rows
  int64_t layers = 12;
  int64_t heads = 12;
  int64_t channels = 768; ///< a multiple of heads
  /// Dropout on the embeddings, the attention probabilities and both residual branches, in
  /// training calls only (nanoGPT's placement); 0 adds none.
  double dropout = 0;
  double layer_norm_epsilon = 1e-5;
  /// Seeds of the initializers (variable k gets seed + k) and of the dropout masks.
  uint64_t seed = 1;
  DType dtype = DType::f32;
};

class GPT {
public:
  explicit GPT(GPTConfig config, Loc loc = {});

  /// Token ids i32 [B, T] (T <= context) -> logits [B, T, vocab]. The first call declares the
  /// variables in the tokens' graph; a call on another graph (an inference or sampling graph)
  /// declares variables of the same names and types there, for CompileOptions::share_variables
  /// or a checkpoint.
  Value operator()(Value tokens, CallMode mode = CallMode::inference);
  /// The mean next-token cross-entropy of logits [B, T, V] against targets i32 [B, T].
  Value loss(Value logits, Value targets, Loc loc = {}) const;
  /// Every variable, in GPT-2's order (the variables of the first call's graph).
  std::vector<Value> trainable_variables() const { return variables_; }
  const GPTConfig& config() const { return config_; }

private:
  Value param(Graph& g, const std::string& name, Shape shape, const Init& init);
  Value block(Value x, int64_t i, CallMode mode);
  Value dropout(Value x, CallMode mode);

  GPTConfig config_;
  Loc loc_;
  std::vector<Value> variables_;
  Graph* first_graph_ = nullptr;
  int64_t next_seed_ = 0;
  // One Dropout layer per place in the graph being built (each draws its own masks).
  std::vector<std::unique_ptr<Dropout>> dropouts_;
  size_t next_dropout_ = 0;
};

/// Causal self-attention of q, k, v [B, H, T, D]: query t sees keys 0..t; scores scaled by
/// 1 / sqrt(D). The fused `attention` op (graph/ops/attention.cpp).
Value causal_self_attention(Value q, Value k, Value v, Loc loc = {});

} // namespace sj

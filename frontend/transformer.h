// Keras-style transformer layers: MultiHeadAttention (Keras's names and layouts),
// PositionEmbedding (learned, as KerasNLP's) and a pre-LN TransformerBlock built from them.
// (sj::GPT, frontend/gpt.h, builds GPT-2 with Hugging Face's names instead.)
//
//   sj::MultiHeadAttention mha(4, 32, {.use_causal_mask = true});
//   sj::Value y = mha(x);                 // self-attention, x [B, T, C] -> [B, T, C]
//   sj::Value z = mha2(query, value);     // cross-attention
#pragma once

#include "frontend/layers.h"

#include <memory>

namespace sj {

struct MultiHeadAttentionOptions {
  /// Query t sees keys 0..t (+ Tk - Tq): Keras's use_causal_mask.
  bool use_causal_mask = false;
  /// Dropout on the attention probabilities in training calls (Keras's `dropout`); 0: the
  /// fused attention op. With dropout the step uses the composition (matmul, mask, softmax,
  /// dropout, matmul), since the fused kernel never forms the probabilities.
  double dropout = 0;
  /// The width of the values per head; 0: key_dim (another width takes the composition too).
  int64_t value_dim = 0;
  bool use_bias = true;
  Init kernel_initializer = Init::glorot_uniform(0);
  Init bias_initializer = Init::zeros();
  uint64_t seed = 0; ///< of the dropout masks; 0: the layer's number + 1
};

/// Keras's MultiHeadAttention: q = query W_q + b_q per head, k and v likewise from `value` (the
/// key is the value), softmax(q kᵀ / sqrt(key_dim)) v, heads merged by W_o. Variables
/// `multi_head_attention_<i>/query/kernel` [C, H, key_dim] and `/query/bias` [H, key_dim],
/// the same for `key` and `value` (value_dim), `/attention_output/kernel` [H, value_dim, C_q]
/// and `/attention_output/bias` [C_q].
class MultiHeadAttention final : public Layer {
public:
  MultiHeadAttention(int64_t num_heads, int64_t key_dim, MultiHeadAttentionOptions options = {},
                     Loc loc = {});
  /// Attention of `query` [B, Tq, C_q] over `value` [B, Tk, C_v] -> [B, Tq, C_q].
  Value operator()(Value query, Value value, CallMode mode = CallMode::inference);
  using Layer::operator();

private:
  Value call(Value x, CallMode mode) override; // self-attention
  Value attend(Value query, Value value, CallMode mode);
  int64_t heads_, key_dim_;
  MultiHeadAttentionOptions options_;
  std::unique_ptr<Dropout> dropout_;
};

/// Learned position embeddings, as KerasNLP's PositionEmbedding: for x [B, T, C] (T <=
/// max_length) the first T rows of `position_embedding_<i>/embeddings` [max_length, C],
/// broadcast to x's shape (add them to the token embeddings).
class PositionEmbedding final : public Layer {
public:
  explicit PositionEmbedding(int64_t max_length, Loc loc = {});

private:
  Value call(Value x, CallMode mode) override;
  int64_t max_length_;
};

struct TransformerBlockOptions {
  int64_t mlp_ratio = 4; ///< the MLP's hidden width, in multiples of C
  double dropout = 0;    ///< on the attention probabilities and both residual branches
  double epsilon = 1e-5; ///< the LayerNorms'
  bool use_causal_mask = true;
};

/// A pre-LN transformer block: x + attn(ln1(x)), then x + mlp(ln2(x)), the MLP Dense(C * ratio,
/// gelu) then Dense(C). Its variables() are its layers' (layer_norm_<i>, multi_head_attention_<i>,
/// dense_<i>, dropout_<i>), collected on the first call.
class TransformerBlock final : public Layer {
public:
  explicit TransformerBlock(int64_t num_heads, TransformerBlockOptions options = {}, Loc loc = {});

private:
  Value call(Value x, CallMode mode) override;
  int64_t heads_;
  TransformerBlockOptions options_;
  std::unique_ptr<LayerNorm> ln1_, ln2_;
  std::unique_ptr<MultiHeadAttention> attn_;
  std::unique_ptr<Dense> fc_, proj_;
  std::unique_ptr<Dropout> drop1_, drop2_;
};

} // namespace sj

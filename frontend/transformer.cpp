#include "frontend/transformer.h"

#include <algorithm>
#include <cmath>
#include <fmt/format.h>

namespace sj {

namespace {

// [B, T, H * d] -> [B, H, T, d]
Value split_heads(Value x, int64_t heads, const Loc& loc) {
  const Shape& s = x.shape();
  return transpose(reshape(x, {s[0], s[1], heads, s[2] / heads}, loc), {0, 2, 1, 3}, loc);
}

// [B, H, T, d] -> [B, T, H * d]
Value merge_heads(Value x, const Loc& loc) {
  const Shape& s = x.shape();
  return reshape(transpose(x, {0, 2, 1, 3}, loc), {s[0], s[2], s[1] * s[3]}, loc);
}

} // namespace

MultiHeadAttention::MultiHeadAttention(int64_t num_heads, int64_t key_dim,
                                       MultiHeadAttentionOptions options, Loc loc)
    : heads_(num_heads), key_dim_(key_dim), options_(std::move(options)) {
  loc_ = loc;
  if (num_heads <= 0 || key_dim <= 0 || options_.value_dim < 0)
    throw Error(loc.where, fmt::format("MultiHeadAttention: num_heads and key_dim must be positive "
                                       "(and value_dim >= 0), got {}, {} and {}",
                                       num_heads, key_dim, options_.value_dim));
  if (!(options_.dropout >= 0 && options_.dropout < 1))
    throw Error(loc.where, fmt::format("MultiHeadAttention: dropout must be in [0, 1), got {}",
                                       options_.dropout));
  if (options_.value_dim == 0) options_.value_dim = key_dim;
}

Value MultiHeadAttention::call(Value x, CallMode mode) { return attend(x, x, mode); }

Value MultiHeadAttention::operator()(Value query, Value value, CallMode mode) {
  return attend(query, value, mode);
}

Value MultiHeadAttention::attend(Value query, Value value, CallMode mode) {
  if (query.rank() != 3 || value.rank() != 3 || query.shape()[0] != value.shape()[0] ||
      !is_float(query.dtype()) || query.dtype() != value.dtype())
    throw Error(loc_.where, fmt::format("MultiHeadAttention: needs query [B, Tq, C] and value "
                                        "[B, Tk, C'] of one float dtype, got {} and {}",
                                        query.type().str(), value.type().str()));
  Graph& g = query.graph();
  const int64_t H = heads_, kd = key_dim_, vd = options_.value_dim;
  const int64_t cq = query.shape()[2], cv = value.shape()[2];
  if (variables_.empty()) {
    int64_t k = name_in(g, "multi_head_attention");
    Init kernel = options_.kernel_initializer;
    if (kernel.seed == 0) kernel.seed = 4 * k + 1;
    auto seeded = [&](int64_t i) {
      Init init = kernel;
      init.seed += i;
      return init;
    };
    const DType dt = query.dtype();
    add_variable(g, "query/kernel", {dt, {cq, H, kd}}, seeded(0), loc_);
    add_variable(g, "key/kernel", {dt, {cv, H, kd}}, seeded(1), loc_);
    add_variable(g, "value/kernel", {dt, {cv, H, vd}}, seeded(2), loc_);
    add_variable(g, "attention_output/kernel", {dt, {H, vd, cq}}, seeded(3), loc_);
    if (options_.use_bias) {
      add_variable(g, "query/bias", {dt, {H, kd}}, options_.bias_initializer, loc_);
      add_variable(g, "key/bias", {dt, {H, kd}}, options_.bias_initializer, loc_);
      add_variable(g, "value/bias", {dt, {H, vd}}, options_.bias_initializer, loc_);
      add_variable(g, "attention_output/bias", {dt, {cq}}, options_.bias_initializer, loc_);
    }
  }
  // One node-building call per statement (issue 11, row 17).
  auto project = [&](Value x, size_t kernel, size_t bias, int64_t width) {
    Value w = variable_in(g, kernel);
    Value w2 = reshape(w, {x.shape()[2], H * width}, loc_);
    Value y = matmul(x, w2, {}, loc_);
    if (options_.use_bias) {
      Value b = variable_in(g, bias);
      Value b1 = reshape(b, {H * width}, loc_);
      y = add(y, b1, loc_);
    }
    return split_heads(y, H, loc_);
  };
  Value q = project(query, 0, 4, kd);
  Value k = project(value, 1, 5, kd);
  Value v = project(value, 2, 6, vd);
  Value o;
  if ((options_.dropout > 0 && mode == CallMode::training) || vd != kd) {
    // The probabilities themselves are needed (Keras's dropout on them), or values of another
    // width than the keys, which the fused op does not take: the composition.
    Value scores = matmul(q, k, {.transpose_b = true}, loc_);
    scores = mul(scores, scalar_like(scores, 1 / std::sqrt(double(kd)), loc_), loc_);
    if (options_.use_causal_mask) {
      Value mask = causal_mask(g, q.shape()[2], k.shape()[2], q.dtype(), loc_);
      scores = add(scores, mask, loc_);
    }
    if (!dropout_) dropout_ = std::make_unique<Dropout>(options_.dropout, options_.seed, loc_);
    Value p = (*dropout_)(softmax(scores, -1, loc_), mode);
    o = matmul(p, v, {}, loc_);
  } else {
    o = attention(q, k, v, {.causal = options_.use_causal_mask}, loc_);
  }
  Value merged = merge_heads(o, loc_); // [B, Tq, H * vd]
  Value wo = variable_in(g, 3);
  Value wo2 = reshape(wo, {H * vd, cq}, loc_);
  Value y = matmul(merged, wo2, {}, loc_);
  if (options_.use_bias) {
    Value bo = variable_in(g, 7);
    y = add(y, bo, loc_);
  }
  return y;
}

PositionEmbedding::PositionEmbedding(int64_t max_length, Loc loc) : max_length_(max_length) {
  loc_ = loc;
  if (max_length <= 0)
    throw Error(loc.where,
                fmt::format("PositionEmbedding: max_length must be positive, got {}", max_length));
}

Value PositionEmbedding::call(Value x, CallMode) {
  if (x.rank() != 3 || x.shape()[1] > max_length_ || !is_float(x.dtype()))
    throw Error(loc_.where, fmt::format("PositionEmbedding({}): needs a float [B, T, C] with T "
                                        "<= {}, got {}",
                                        max_length_, max_length_, x.type().str()));
  Graph& g = x.graph();
  const int64_t T = x.shape()[1], C = x.shape()[2];
  if (variables_.empty()) {
    int64_t k = name_in(g, "position_embedding");
    add_variable(g, "embeddings", {x.dtype(), {max_length_, C}}, Init::glorot_uniform(k + 1), loc_);
  }
  Value table = variable_in(g, 0);
  Value rows = slice(table, {0, 0}, {T, C}, loc_);
  return broadcast_to(rows, x.shape(), loc_);
}

TransformerBlock::TransformerBlock(int64_t num_heads, TransformerBlockOptions options, Loc loc)
    : heads_(num_heads), options_(options) {
  loc_ = loc;
  if (num_heads <= 0 || options.mlp_ratio <= 0)
    throw Error(loc.where, fmt::format("TransformerBlock: num_heads and mlp_ratio must be "
                                       "positive, got {} and {}",
                                       num_heads, options.mlp_ratio));
}

Value TransformerBlock::call(Value x, CallMode mode) {
  if (x.rank() != 3 || x.shape()[2] % heads_ != 0)
    throw Error(loc_.where, fmt::format("TransformerBlock({} heads): needs x [B, T, C] with C a "
                                        "multiple of the heads, got {}",
                                        heads_, x.type().str()));
  const int64_t C = x.shape()[2];
  bool first = !attn_;
  if (first) {
    ln1_ = std::make_unique<LayerNorm>(options_.epsilon, loc_);
    ln2_ = std::make_unique<LayerNorm>(options_.epsilon, loc_);
    attn_ = std::make_unique<MultiHeadAttention>(
        heads_, C / heads_,
        MultiHeadAttentionOptions{.use_causal_mask = options_.use_causal_mask,
                                  .dropout = options_.dropout},
        loc_);
    fc_ = std::make_unique<Dense>(C * options_.mlp_ratio, Activation::gelu, DenseOptions{}, loc_);
    proj_ = std::make_unique<Dense>(C, Activation::linear, DenseOptions{}, loc_);
    if (options_.dropout > 0) {
      drop1_ = std::make_unique<Dropout>(options_.dropout, 0, loc_);
      drop2_ = std::make_unique<Dropout>(options_.dropout, 0, loc_);
    }
  }
  Value h = (*ln1_)(x, mode);
  Value a = (*attn_)(h, mode);
  if (drop1_) a = (*drop1_)(a, mode);
  x = add(x, a, loc_);
  h = (*ln2_)(x, mode);
  Value m = (*fc_)(h, mode);
  m = (*proj_)(m, mode);
  if (drop2_) m = (*drop2_)(m, mode);
  x = add(x, m, loc_);
  if (first && variables_.empty()) {
    // The block's variables are its layers', in call order.
    for (const Layer* l :
         std::initializer_list<const Layer*>{ln1_.get(), attn_.get(), ln2_.get(), fc_.get(),
                                             proj_.get(), drop1_.get(), drop2_.get()}) {
      if (!l) continue;
      std::vector<Value> trainable = l->trainable_variables();
      for (const Value& v : l->variables()) {
        variables_.push_back(v);
        trainable_.push_back(std::any_of(trainable.begin(), trainable.end(),
                                         [&](const Value& t) { return t.id() == v.id(); }));
      }
    }
  }
  return x;
}

} // namespace sj

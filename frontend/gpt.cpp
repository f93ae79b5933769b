#include "frontend/gpt.h"

#include "frontend/losses.h"

#include <cmath>
#include <fmt/format.h>

namespace sj {

Value causal_self_attention(Value q, Value k, Value v, Loc loc) {
  return attention(q, k, v, {.causal = true}, loc); // scale 0: 1 / sqrt(D)
}

GPT::GPT(GPTConfig config, Loc loc) : config_(config), loc_(loc) {
  const GPTConfig& c = config_;
  if (c.vocab <= 0 || c.context <= 0 || c.layers <= 0 || c.heads <= 0 || c.channels <= 0 ||
      c.channels % c.heads != 0)
    throw Error(loc.where, fmt::format("GPT: vocab, context, layers, heads and channels must be "
                                       "positive and channels a multiple of heads, got vocab {}, "
                                       "context {}, layers {}, heads {}, channels {}",
                                       c.vocab, c.context, c.layers, c.heads, c.channels));
  if (!(c.dropout >= 0 && c.dropout < 1))
    throw Error(loc.where, fmt::format("GPT: dropout must be in [0, 1), got {}", c.dropout));
  if (!is_float(c.dtype))
    throw Error(loc.where,
                fmt::format("GPT: dtype must be f32 or f64, got {}", dtype_name(c.dtype)));
}

Value GPT::param(Graph& g, const std::string& name, Shape shape, const Init& init) {
  TensorType type{config_.dtype, std::move(shape)};
  Init seeded = init;
  seeded.seed = static_cast<int64_t>(config_.seed) + next_seed_++;
  Value v = [&] {
    if (auto existing = g.find(name)) {
      Value e(g, *existing);
      if (e.node().op != Op::variable || e.type() != type)
        throw Error(loc_.where, fmt::format("GPT: the graph already has a value '{}' ({}), not a "
                                            "variable {}",
                                            name, e.type().str(), type.str()));
      return e;
    }
    return variable(g, name, type, seeded, loc_);
  }();
  if (&g == first_graph_) variables_.push_back(v);
  return v;
}

Value GPT::dropout(Value x, CallMode mode) {
  if (config_.dropout == 0 || mode != CallMode::training) return x;
  if (next_dropout_ == dropouts_.size())
    dropouts_.push_back(std::make_unique<Dropout>(
        config_.dropout, config_.seed * 1000 + dropouts_.size() + 1, loc_));
  return (*dropouts_[next_dropout_++])(x, mode);
}

Value GPT::block(Value x, int64_t i, CallMode mode) {
  Graph& g = x.graph();
  const int64_t B = x.shape()[0], T = x.shape()[1], C = config_.channels, H = config_.heads;
  const double eps = config_.layer_norm_epsilon;
  const std::string p = fmt::format("h.{}.", i);
  const Init weight = Init::normal(0, 0.02, 0), zero = Init::zeros(), one = Init::ones();
  const Init projection = Init::normal(0, 0.02 / std::sqrt(2.0 * double(config_.layers)), 0);
  // One node-building call per statement: the graph's order must not depend on the compiler's
  // order of evaluating arguments (issue 11, row 17).
  Value ln1_w = param(g, p + "ln_1.weight", {C}, one);
  Value ln1_b = param(g, p + "ln_1.bias", {C}, zero);
  Value attn_w = param(g, p + "attn.c_attn.weight", {C, 3 * C}, weight);
  Value attn_b = param(g, p + "attn.c_attn.bias", {3 * C}, zero);
  Value proj_w = param(g, p + "attn.c_proj.weight", {C, C}, projection);
  Value proj_b = param(g, p + "attn.c_proj.bias", {C}, zero);
  Value ln2_w = param(g, p + "ln_2.weight", {C}, one);
  Value ln2_b = param(g, p + "ln_2.bias", {C}, zero);
  Value fc_w = param(g, p + "mlp.c_fc.weight", {C, 4 * C}, weight);
  Value fc_b = param(g, p + "mlp.c_fc.bias", {4 * C}, zero);
  Value mlp_w = param(g, p + "mlp.c_proj.weight", {4 * C, C}, projection);
  Value mlp_b = param(g, p + "mlp.c_proj.bias", {C}, zero);

  // x + attn(ln_1(x)): q, k, v from one product, split into heads [B, H, T, D].
  Value h = layer_norm(x, ln1_w, ln1_b, eps, loc_);
  Value qkv = add(matmul(h, attn_w, {}, loc_), attn_b, loc_); // [B, T, 3C]
  std::vector<Value> parts = chunk(qkv, 3, 2, loc_);
  auto head = [&](Value s) {
    return transpose(reshape(s, {B, T, H, C / H}, loc_), {0, 2, 1, 3}, loc_);
  };
  Value q = head(parts[0]);
  Value k = head(parts[1]);
  Value v = head(parts[2]);
  Value y = causal_self_attention(q, k, v, loc_); // [B, H, T, D]
  y = reshape(transpose(y, {0, 2, 1, 3}, loc_), {B, T, C}, loc_);
  Value attn = add(matmul(y, proj_w, {}, loc_), proj_b, loc_);
  x = add(x, dropout(attn, mode), loc_);

  // x + mlp(ln_2(x)), GPT-2's tanh GELU.
  h = layer_norm(x, ln2_w, ln2_b, eps, loc_);
  Value m = gelu(add(matmul(h, fc_w, {}, loc_), fc_b, loc_), /*approximate=*/true, loc_);
  m = add(matmul(m, mlp_w, {}, loc_), mlp_b, loc_);
  return add(x, dropout(m, mode), loc_);
}

Value GPT::operator()(Value tokens, CallMode mode) {
  if (tokens.rank() != 2 || (tokens.dtype() != DType::i32 && tokens.dtype() != DType::i64) ||
      tokens.shape()[1] > config_.context)
    throw Error(loc_.where, fmt::format("GPT: needs token ids i32 [batch, T] with T <= context = "
                                        "{}, got {}",
                                        config_.context, tokens.type().str()));
  Graph& g = tokens.graph();
  if (!first_graph_) first_graph_ = &g;
  next_seed_ = 0;
  next_dropout_ = 0;
  const int64_t T = tokens.shape()[1], C = config_.channels;
  const Init embedding = Init::normal(0, 0.02, 0);
  Value wte = param(g, "wte.weight", {config_.vocab, C}, embedding);
  Value wpe = param(g, "wpe.weight", {config_.context, C}, embedding);
  std::vector<int32_t> positions(T);
  for (int64_t t = 0; t < T; ++t)
    positions[t] = static_cast<int32_t>(t);
  Value pos = gather(wpe, constant(g, Tensor::from<int32_t>({T}, positions), loc_), loc_); // [T, C]
  Value x = add(gather(wte, tokens, loc_), pos, loc_); // [B, T, C]
  x = dropout(x, mode);
  for (int64_t i = 0; i < config_.layers; ++i)
    x = block(x, i, mode);
  Value lnf_w = param(g, "ln_f.weight", {C}, Init::ones());
  Value lnf_b = param(g, "ln_f.bias", {C}, Init::zeros());
  x = layer_norm(x, lnf_w, lnf_b, config_.layer_norm_epsilon, loc_);
  // The logits tied to the token embedding: x . wte^T.
  return matmul(x, wte, {.transpose_b = true}, loc_);
}

Value GPT::loss(Value logits, Value targets, Loc loc) const {
  const Shape& s = logits.shape();
  if (s.size() != 3 || targets.shape() != Shape{s[0], s[1]})
    throw Error(loc.where, fmt::format("GPT::loss: needs logits [B, T, V] and targets [B, T], got "
                                       "{} and {}",
                                       logits.type().str(), targets.type().str()));
  Value rows = reshape(logits, {s[0] * s[1], s[2]}, loc);
  return sparse_categorical_crossentropy_from_logits(rows, reshape(targets, {s[0] * s[1]}, loc),
                                                     loc);
}

} // namespace sj

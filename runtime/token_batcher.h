// Training windows from one long token array, for language models: batch `step` is B windows of
// T + 1 consecutive tokens at random offsets, split into x = the first T tokens and y = the T
// that follow each (the next-token targets).
//
//   sj::TokenBatcher data(tokens, {.batch_size = 12, .context = 64, .seed = 1});
//   auto [x, y] = data.batch(step);            // i32 [12, 64] each
//   step_fn.run({{"x", x}, {"y", y}});
//
// A batch is a pure function of (tokens, options, step): the offsets come from the project's
// counter-based generator (graph/initializers.h), so every run and machine sees the same batches
// and a resumed run continues them exactly. See docs/data.md.
#pragma once

#include "graph/error.h"
#include "graph/tensor.h"

#include <cstdint>
#include <utility>

namespace sj {

struct TokenBatcherOptions {
  int64_t batch_size = 0; ///< B, > 0; B * T at most 2^40 (kMaxElements)
  int64_t context = 0;    ///< T, > 0; the array needs at least T + 1 tokens
  uint64_t seed = 0;
};

class TokenBatcher {
public:
  /// `tokens`: a rank-1 i32 or i64 array (kept as i32; every token must be >= 0 and fit i32).
  /// Throws sj::Error at `loc` for a bad array or options.
  TokenBatcher(const Tensor& tokens, TokenBatcherOptions options, Location loc = Location::here());

  int64_t num_tokens() const { return static_cast<int64_t>(tokens_.size()); }
  const TokenBatcherOptions& options() const { return options_; }
  /// The offset of window b of batch `step` (step >= 0): uniform in [0, N - T - 1].
  int64_t offset(int64_t step, int64_t b) const;
  /// Batch `step` (>= 0): x, y, both i32 [batch_size, context], y[b, t] = x[b, t + 1] shifted in
  /// the array (the token after x[b, t]).
  std::pair<Tensor, Tensor> batch(int64_t step, Location loc = Location::here()) const;

private:
  std::vector<int32_t> tokens_;
  TokenBatcherOptions options_;
};

} // namespace sj

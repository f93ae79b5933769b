#include "runtime/token_batcher.h"

#include "graph/initializers.h"
#include "graph/types.h"

#include <fmt/format.h>
#include <limits>

namespace sj {

TokenBatcher::TokenBatcher(const Tensor& tokens, TokenBatcherOptions options, Location loc)
    : options_(options) {
  if (tokens.rank() != 1 || (tokens.dtype() != DType::i32 && tokens.dtype() != DType::i64))
    throw Error(loc, fmt::format("TokenBatcher: the tokens must be a rank-1 i32 or i64 array, "
                                 "got {}",
                                 tokens.type().str()));
  if (options.batch_size <= 0 || options.context <= 0)
    throw Error(loc, fmt::format("TokenBatcher: batch_size and context must be positive, got {} "
                                 "and {}",
                                 options.batch_size, options.context));
  int64_t n = tokens.num_elements();
  if (n <= options.context) // (not n < context + 1: that overflows for a context of 2^63 - 1)
    throw Error(loc, fmt::format("TokenBatcher: {} tokens are too few for windows of context + 1 "
                                 "= {}",
                                 n, uint64_t(options.context) + 1));
  // batch() allocates B * T tokens twice: the product must be a valid tensor size, or it would
  // wrap around and the windows be written past the tensors.
  if (!checked_mul(options.batch_size, options.context))
    throw Error(loc, fmt::format("TokenBatcher: a batch of {} x {} tokens is more than 2^40",
                                 options.batch_size, options.context));
  tokens_.resize(n);
  for (int64_t i = 0; i < n; ++i) {
    int64_t t =
        tokens.dtype() == DType::i32 ? tokens.data<int32_t>()[i] : tokens.data<int64_t>()[i];
    if (t < 0 || t > std::numeric_limits<int32_t>::max())
      throw Error(loc, fmt::format("TokenBatcher: token {} at position {} is not a valid id "
                                   "(ids are in [0, 2^31))",
                                   t, i));
    tokens_[i] = static_cast<int32_t>(t);
  }
}

int64_t TokenBatcher::offset(int64_t step, int64_t b) const {
  // Windows start in [0, N - T - 1]: N - T choices. The draw's bias (2^64 mod choices) is
  // below 2^-30 for any array that fits in memory.
  uint64_t choices = uint64_t(num_tokens() - options_.context);
  uint64_t counter = uint64_t(step) * uint64_t(options_.batch_size) + uint64_t(b);
  return static_cast<int64_t>(random_bits(options_.seed, counter) % choices);
}

std::pair<Tensor, Tensor> TokenBatcher::batch(int64_t step, Location loc) const {
  if (step < 0) throw Error(loc, fmt::format("TokenBatcher::batch: step {} is negative", step));
  const int64_t B = options_.batch_size, T = options_.context;
  Tensor x({DType::i32, {B, T}}), y({DType::i32, {B, T}});
  for (int64_t b = 0; b < B; ++b) {
    const int32_t* window = tokens_.data() + offset(step, b);
    for (int64_t t = 0; t < T; ++t) {
      x.data<int32_t>()[b * T + t] = window[t];
      y.data<int32_t>()[b * T + t] = window[t + 1];
    }
  }
  return {std::move(x), std::move(y)};
}

} // namespace sj

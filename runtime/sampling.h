// Host-side sampling of a next token from a row of logits, for text generation: temperature,
// top-k, and a seeded draw (the project's counter-based generator), so the same (seed,
// counter) always picks the same token.
#pragma once

#include "graph/error.h"

#include <cstdint>
#include <span>

namespace sj {

struct SamplingOptions {
  double temperature = 1.0; ///< > 0; smaller is greedier
  int64_t top_k = 0;        ///< keep the k largest logits; 0: all
  uint64_t seed = 0;
};

/// The index drawn from softmax(logits / temperature) restricted to the top_k largest logits
/// (ties broken by lower index), with the uniform number random_uniform01(seed, counter).
/// sj::Error at `loc` for empty logits, a temperature <= 0 or a negative top_k.
int32_t sample_token(std::span<const float> logits, const SamplingOptions& options,
                     uint64_t counter, Location loc = Location::here());

} // namespace sj

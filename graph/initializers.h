// First values of variables, from their `init` attributes. Formulas and defaults are Keras's:
//
//   zeros, ones, constant(value)
//   uniform(low, high)            U[low, high] (drawn in double, rounded to the dtype)
//   normal(mean, stddev)          N(mean, stddev^2)
//   glorot_uniform                U[-l, l], l = sqrt(6 / (fan_in + fan_out))
//   he_normal                     truncated N(0, s^2) at 2 s, s = sqrt(2 / fan_in) / 0.8796...
//
// with Keras's fans: rank 0 -> (1, 1); rank 1 -> (n, n); rank 2 [in, out] -> (in, out);
// higher ranks multiply both by the product of the leading (receptive-field) dimensions.
//
// Random values come from a counter-based generator keyed by (seed, element index), so they do
// not depend on evaluation order and are bit-identical on every run.
#pragma once

#include "graph/graph.h"
#include "graph/tensor.h"

namespace sj {

/// The initial value of a `variable` node.
Tensor initial_value(const Node& variable);

/// A tensor of standard normal samples of `type` (a float dtype), reproducible from `seed`:
/// data for examples, tests and benchmarks.
Tensor random_normal(const TensorType& type, uint64_t seed);

/// 64 random bits for (seed, counter): the one generator of stepjit, behind every initializer
/// and the random_uniform op. SplitMix64's finalizer, twice:
///   random_bits(seed, counter) = mix(mix(seed + 0x9e3779b97f4a7c15) ^ counter)
///   mix(z): z = (z ^ z >> 30) * 0xbf58476d1ce4e5b9; z = (z ^ z >> 27) * 0x94d049bb133111eb;
///           z ^ z >> 31
uint64_t random_bits(uint64_t seed, uint64_t counter);

/// Uniform double in [0, 1) for (seed, counter): the top 53 bits of random_bits.
double random_uniform01(uint64_t seed, uint64_t counter);

} // namespace sj

// The random_uniform generator as documented (docs/ops.md, graph/ops/random.cpp), written out
// independently for the tests: element i of random_uniform(counter) {seed} has the bits
// f(f(seed, counter), i), f(s, c) = mix(mix(s + golden ratio) ^ c), mix being splitmix64's.
#pragma once

#include <cstdint>

namespace sj::test {

inline uint64_t splitmix(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}
inline uint64_t random_hash(uint64_t s, uint64_t c) {
  return splitmix(splitmix(s + 0x9e3779b97f4a7c15ULL) ^ c);
}
/// The 64 random bits of element i.
inline uint64_t random_bits_of(uint64_t seed, uint64_t counter, uint64_t i) {
  return random_hash(random_hash(seed, counter), i);
}

} // namespace sj::test

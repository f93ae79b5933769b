// The tests' random numbers: SplitMix64, so fixed seeds give the same values with every
// standard library (the distributions of <random> are implementation-defined).
#pragma once

#include <cstdint>
#include <vector>

namespace sj::test {

class Rng {
public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9;
    z = (z ^ (z >> 27)) * 0x94d049bb133111eb;
    return z ^ (z >> 31);
  }
  /// Uniform in [lo, hi).
  double uniform(double lo, double hi) {
    return lo + (hi - lo) * static_cast<double>(next() >> 11) * 0x1p-53;
  }
  /// Magnitude uniform in [lo, hi), sign random: values kept away from 0.
  double signed_uniform(double lo, double hi) {
    double m = uniform(lo, hi);
    return (next() & 1) ? m : -m;
  }
  /// Uniform in [0, n).
  int64_t below(int64_t n) { return static_cast<int64_t>(next() % static_cast<uint64_t>(n)); }
  /// Uniform in [lo, hi] (integers).
  int64_t between(int64_t lo, int64_t hi) { return lo + below(hi - lo + 1); }
  bool chance(double p) { return uniform(0, 1) < p; }
  template <typename T>
  const T& pick(const std::vector<T>& v) {
    return v[static_cast<size_t>(below(static_cast<int64_t>(v.size())))];
  }

private:
  uint64_t state_;
};

} // namespace sj::test

#include "graph/initializers.h"

#include "graph/ops/kernel_util.h"

#include <cmath>
#include <numbers>

namespace sj {

namespace {

// SplitMix64's finalizer: a bijective mix with good avalanche, cheap enough per element.
uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// One standard normal sample for (seed, counter) by Box-Muller.
double standard_normal(uint64_t seed, uint64_t counter) {
  double u1 = random_uniform01(seed, 2 * counter);
  double u2 = random_uniform01(seed, 2 * counter + 1);
  return std::sqrt(-2.0 * std::log1p(-u1)) * std::cos(2.0 * std::numbers::pi * u2);
}

std::pair<double, double> fans(const Shape& s) {
  if (s.empty()) return {1, 1};
  if (s.size() == 1) return {double(s[0]), double(s[0])};
  double receptive = 1;
  for (size_t i = 0; i + 2 < s.size(); ++i)
    receptive *= double(s[i]);
  return {double(s[s.size() - 2]) * receptive, double(s.back()) * receptive};
}

} // namespace

uint64_t random_bits(uint64_t seed, uint64_t counter) {
  return mix64(mix64(seed + 0x9e3779b97f4a7c15ULL) ^ counter);
}

double random_uniform01(uint64_t seed, uint64_t counter) {
  return double(random_bits(seed, counter) >> 11) * 0x1.0p-53;
}

Tensor random_normal(const TensorType& type, uint64_t seed) {
  if (!is_float(type.dtype)) internal_error("random_normal: not a float type");
  Tensor t(type);
  visit_dtype(t.dtype(), [&]<typename T>() {
    if constexpr (std::is_floating_point_v<T>) {
      T* p = t.data<T>();
      for (int64_t i = 0; i < t.num_elements(); ++i)
        p[i] = static_cast<T>(standard_normal(seed, static_cast<uint64_t>(i)));
    }
  });
  return t;
}

Tensor initial_value(const Node& v) {
  if (v.op != Op::variable) internal_error("initial_value: not a variable");
  const Attrs& a = v.attrs;
  const std::string& init = a.name("init");
  auto seed = static_cast<uint64_t>(a.integer("seed"));
  auto [fan_in, fan_out] = fans(v.type.shape);
  // Each element's value as a function of its index, in double.
  auto value = [&](int64_t i) -> double {
    auto ui = static_cast<uint64_t>(i);
    if (init == "zeros") return 0;
    if (init == "ones") return 1;
    if (init == "constant") return a.real("value");
    if (init == "uniform") {
      double lo = a.real("low"), hi = a.real("high");
      return lo + (hi - lo) * random_uniform01(seed, ui);
    }
    if (init == "normal") return a.real("mean") + a.real("stddev") * standard_normal(seed, ui);
    if (init == "glorot_uniform") {
      double limit = std::sqrt(6.0 / std::max(1.0, fan_in + fan_out));
      return -limit + 2 * limit * random_uniform01(seed, ui);
    }
    if (init == "he_normal") {
      // Keras's truncated normal: redraw outside two standard deviations; the constant is the
      // stddev of a standard normal truncated to [-2, 2].
      double s = std::sqrt(2.0 / std::max(1.0, fan_in)) / 0.87962566103423978;
      for (uint64_t k = 0;; ++k) {
        double z = standard_normal(mix64(seed) ^ k, ui);
        if (std::abs(z) <= 2.0) return s * z;
      }
    }
    internal_error("initial_value: unknown init '" + init + "'");
  };
  Tensor t(v.type);
  visit_dtype(t.dtype(), [&]<typename T>() {
    T* p = t.data<T>();
    for (int64_t i = 0; i < t.num_elements(); ++i)
      p[i] = ops::convert<T>(value(i)); // as cast converts: saturating, never UB
  });
  return t;
}

} // namespace sj

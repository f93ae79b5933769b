#include "runtime/sampling.h"

#include "graph/initializers.h"

#include <algorithm>
#include <cmath>
#include <fmt/format.h>
#include <numeric>
#include <vector>

namespace sj {

int32_t sample_token(std::span<const float> logits, const SamplingOptions& options,
                     uint64_t counter, Location loc) {
  const int64_t n = static_cast<int64_t>(logits.size());
  if (n == 0) throw Error(loc, "sample_token: no logits");
  if (!(options.temperature > 0) || options.top_k < 0)
    throw Error(loc, fmt::format("sample_token: temperature must be > 0 and top_k >= 0, got {} "
                                 "and {}",
                                 options.temperature, options.top_k));
  std::vector<int32_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](int32_t a, int32_t b) { return logits[a] > logits[b]; });
  const int64_t keep = options.top_k > 0 ? std::min(options.top_k, n) : n;
  std::vector<double> p(keep);
  double top = logits[order[0]], sum = 0;
  for (int64_t r = 0; r < keep; ++r)
    sum += p[r] = std::exp((double(logits[order[r]]) - top) / options.temperature);
  double u = random_uniform01(options.seed, counter) * sum;
  for (int64_t r = 0; r < keep; ++r)
    if ((u -= p[r]) < 0) return order[r];
  return order[keep - 1];
}

} // namespace sj

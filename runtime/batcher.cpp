#include "runtime/batcher.h"

#include "graph/initializers.h"

#include <algorithm>
#include <cstring>
#include <fmt/format.h>
#include <span>

namespace sj {

namespace {

// Epochs are bounded so that epoch arithmetic (the wrap policy reads later epochs) cannot overflow.
constexpr int64_t kMaxEpoch = int64_t{1} << 40;

// SplitMix64's finalizer: derives one well-mixed key per (seed, epoch).
uint64_t mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// A permutation of 0..n-1 for (seed, epoch): Fisher-Yates from the last position down, step s
// drawing j uniformly from [0, i] with random_uniform01(key, s).
std::vector<int64_t> shuffled_order(int64_t n, uint64_t seed, int64_t epoch) {
  std::vector<int64_t> order(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i)
    order[static_cast<size_t>(i)] = i;
  uint64_t key = mix(seed ^ mix(static_cast<uint64_t>(epoch)));
  uint64_t step = 0;
  for (int64_t i = n - 1; i > 0; --i) {
    double u = random_uniform01(key, step++);
    auto j = static_cast<int64_t>(u * static_cast<double>(i + 1));
    j = std::min(j, i); // u < 1, but the product may round up to i + 1
    std::swap(order[static_cast<size_t>(i)], order[static_cast<size_t>(j)]);
  }
  return order;
}

// `rows` rows of `t` (rows of its first dimension) copied into a fresh [rows.size(), ...] tensor.
Tensor gather_rows(const Tensor& t, int64_t n, const std::vector<int64_t>& rows) {
  Shape shape = t.shape();
  shape[0] = static_cast<int64_t>(rows.size());
  Tensor out({t.dtype(), shape});
  size_t row_bytes = n == 0 ? 0 : t.bytes().size() / static_cast<size_t>(n);
  if (row_bytes == 0) return out;
  const std::byte* src = t.bytes().data();
  std::byte* dst = out.bytes().data();
  for (size_t r = 0; r < rows.size(); ++r)
    std::memcpy(dst + r * row_bytes, src + static_cast<size_t>(rows[r]) * row_bytes, row_bytes);
  return out;
}

std::string_view policy_name(BatcherOptions::LastBatch p) {
  switch (p) {
  case BatcherOptions::LastBatch::drop:
    return "drop";
  case BatcherOptions::LastBatch::keep:
    return "keep";
  case BatcherOptions::LastBatch::wrap:
    return "wrap";
  }
  return "?";
}

} // namespace

Batcher::Batcher(Tensor features, Tensor labels, BatcherOptions options, Location loc)
    : features_(std::move(features)), labels_(std::move(labels)), options_(options) {
  using LastBatch = BatcherOptions::LastBatch;
  if (options_.batch_size <= 0)
    throw Error(loc, fmt::format("batch_size is {}; it must be at least 1", options_.batch_size));
  if (options_.last != LastBatch::drop && options_.last != LastBatch::keep &&
      options_.last != LastBatch::wrap)
    throw Error(loc, "BatcherOptions::last is not one of drop, keep, wrap");
  if (features_.rank() == 0)
    throw Error(loc, fmt::format("features {} is a scalar; it must be [N, ...] with one row per "
                                 "example",
                                 features_.type().str()));
  if (labels_.rank() == 0)
    throw Error(loc, fmt::format("labels {} is a scalar; it must be [N, ...] with one row per "
                                 "example",
                                 labels_.type().str()));
  n_ = features_.shape()[0];
  if (labels_.shape()[0] != n_)
    throw Error(loc,
                fmt::format("features {} has {} examples but labels {} has {}: both need "
                            "one row per example",
                            features_.type().str(), n_, labels_.type().str(), labels_.shape()[0]));
  if (n_ == 0)
    throw Error(loc, fmt::format("no examples: features {} and labels {} have 0 rows",
                                 features_.type().str(), labels_.type().str()));
  if (options_.last == LastBatch::drop && n_ < options_.batch_size)
    throw Error(loc, fmt::format("{} example{} but batch_size {}: with LastBatch::drop every "
                                 "epoch would be empty (use keep or wrap, or a smaller batch)",
                                 n_, n_ == 1 ? "" : "s", options_.batch_size));
}

int64_t Batcher::batches_per_epoch() const {
  int64_t b = options_.batch_size;
  if (options_.last == BatcherOptions::LastBatch::drop) return n_ / b;
  return n_ / b + (n_ % b != 0 ? 1 : 0);
}

int64_t Batcher::batch_rows(int64_t index, Location loc) const {
  int64_t count = batches_per_epoch();
  if (index < 0 || index >= count)
    throw Error(loc, fmt::format("batch index {} is out of range: an epoch has {} batch{} of "
                                 "{} examples (batch_size {}, last batch policy {})",
                                 index, count, count == 1 ? "" : "es", n_, options_.batch_size,
                                 policy_name(options_.last)));
  int64_t b = options_.batch_size;
  if (options_.last == BatcherOptions::LastBatch::keep) return std::min(b, n_ - index * b);
  return b;
}

std::vector<int64_t> Batcher::order(int64_t epoch, Location loc) const {
  if (epoch < 0 || epoch >= kMaxEpoch)
    throw Error(loc, fmt::format("epoch {} is out of range [0, 2^40)", epoch));
  return *cached_order(epoch);
}

std::shared_ptr<const std::vector<int64_t>> Batcher::cached_order(int64_t epoch) const {
  std::lock_guard lock(mutex_);
  for (const auto& [e, o] : cache_)
    if (e == epoch) return o;
  std::shared_ptr<const std::vector<int64_t>> o;
  if (options_.shuffle) {
    o = std::make_shared<const std::vector<int64_t>>(shuffled_order(n_, options_.seed, epoch));
  } else {
    // One identity order serves every epoch.
    if (!cache_.empty()) return cache_.front().second;
    auto identity = std::make_shared<std::vector<int64_t>>(static_cast<size_t>(n_));
    for (int64_t i = 0; i < n_; ++i)
      (*identity)[static_cast<size_t>(i)] = i;
    o = std::move(identity);
  }
  if (cache_.size() == 2) cache_.erase(cache_.begin());
  cache_.emplace_back(epoch, o);
  return o;
}

std::vector<int64_t> Batcher::batch_indices(int64_t epoch, int64_t index, Location loc) const {
  if (epoch < 0 || epoch >= kMaxEpoch)
    throw Error(loc, fmt::format("epoch {} is out of range [0, 2^40)", epoch));
  int64_t rows = batch_rows(index, loc);
  int64_t start = index * options_.batch_size;
  std::vector<int64_t> out;
  out.reserve(static_cast<size_t>(rows));
  // Position p of the concatenated epoch orders epoch, epoch + 1, ...: only `wrap` goes past N.
  int64_t current = -1;
  std::shared_ptr<const std::vector<int64_t>> o;
  for (int64_t p = start; p < start + rows; ++p) {
    int64_t e = epoch + p / n_;
    if (e != current) {
      o = cached_order(e);
      current = e;
    }
    out.push_back((*o)[static_cast<size_t>(p % n_)]);
  }
  return out;
}

std::pair<Tensor, Tensor> Batcher::batch(int64_t epoch, int64_t index, Location loc) const {
  std::vector<int64_t> rows = batch_indices(epoch, index, loc);
  return {gather_rows(features_, n_, rows), gather_rows(labels_, n_, rows)};
}

} // namespace sj

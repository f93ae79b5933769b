// Mini-batches of (features, labels) for training loops: in order or shuffled per epoch,
// deterministically, with an explicit policy for the last partial batch.
//
//   sj::Batcher b(x, y, {.batch_size = 32, .shuffle = true, .seed = 7});
//   for (int64_t epoch = 0; epoch < 10; ++epoch)
//     for (int64_t i = 0; i < b.batches_per_epoch(); ++i) {
//       auto [xb, yb] = b.batch(epoch, i);   // [32, ...] copies of the rows
//       step.run({{"x", xb}, {"y", yb}});
//     }
//
// A batch is a pure function of (data, options, epoch, index): the same on every run and every
// machine (the shuffle is a Fisher-Yates driven by random_uniform01, never std::shuffle), and
// batches may be asked for in any order. See docs/data.md.
#pragma once

#include "graph/tensor.h"

#include <cstdint>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

namespace sj {

struct BatcherOptions {
  /// What happens to the last N % batch_size examples of an epoch.
  enum class LastBatch {
    /// Left out: every batch has exactly batch_size rows, the static batch a compiled step needs.
    /// Shuffling changes which examples are left out in each epoch. N < batch_size is an error.
    drop,
    /// A smaller last batch of N % batch_size rows. It cannot feed a step compiled for
    /// batch_size rows (a feed of the wrong shape is an error): use it with the interpreter, for
    /// evaluation graphs built for that size, or when N is a multiple of batch_size.
    keep,
    /// The last batch is filled up with the first rows of the next epoch's order (of the epochs
    /// after it, when N < batch_size): full batches, every example seen at least once per epoch,
    /// a few of them twice.
    wrap,
  };

  int64_t batch_size = 0;
  /// A new permutation of the rows in every epoch, from (seed, epoch); in order when false.
  bool shuffle = false;
  uint64_t seed = 0;
  LastBatch last = LastBatch::drop;
};

class Batcher {
public:
  /// `features` [N, ...] and `labels` [M, ...] of any element types; N must equal M and be > 0.
  /// The tensors are kept (copied or moved in). Throws sj::Error at `loc` for bad shapes or
  /// options.
  Batcher(Tensor features, Tensor labels, BatcherOptions options, Location loc = Location::here());

  int64_t num_examples() const { return n_; }
  const BatcherOptions& options() const { return options_; }
  /// drop: N / batch_size; keep and wrap: ceil(N / batch_size).
  int64_t batches_per_epoch() const;
  /// The number of rows of batch `index` (batch_size, except the last one with `keep`).
  int64_t batch_rows(int64_t index, Location loc = Location::here()) const;
  /// The row order of `epoch` (>= 0): 0..N-1, or its permutation for (seed, epoch) if shuffling.
  std::vector<int64_t> order(int64_t epoch, Location loc = Location::here()) const;
  /// The row indices of batch `index` of `epoch`.
  std::vector<int64_t> batch_indices(int64_t epoch, int64_t index,
                                     Location loc = Location::here()) const;
  /// Batch `index` of `epoch`: fresh [rows, ...] copies of those rows of the features and labels.
  /// Throws sj::Error at `loc` when epoch < 0 or index is not in [0, batches_per_epoch()).
  std::pair<Tensor, Tensor> batch(int64_t epoch, int64_t index,
                                  Location loc = Location::here()) const;

private:
  // The cached order of one epoch (batches of an epoch are usually asked for one after another).
  std::shared_ptr<const std::vector<int64_t>> cached_order(int64_t epoch) const;

  Tensor features_;
  Tensor labels_;
  BatcherOptions options_;
  int64_t n_ = 0;
  mutable std::mutex mutex_;
  // At most two epochs (the wrap policy reads the next epoch's order too).
  mutable std::vector<std::pair<int64_t, std::shared_ptr<const std::vector<int64_t>>>> cache_;
};

} // namespace sj

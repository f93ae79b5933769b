#include "graph/initializers.h"
#include "runtime/batcher.h"

#include <algorithm>
#include <gtest/gtest.h>
#include <numeric>
#include <set>
#include <string>

namespace sj {

namespace {

using LastBatch = BatcherOptions::LastBatch;

// features [n, 2] with row i = (10 i, 10 i + 1); labels [n] with label i = i.
Tensor features(int64_t n) {
  std::vector<float> v;
  for (int64_t i = 0; i < n; ++i) {
    v.push_back(static_cast<float>(10 * i));
    v.push_back(static_cast<float>(10 * i + 1));
  }
  return Tensor::from<float>({n, 2}, v);
}
Tensor labels(int64_t n) {
  std::vector<int32_t> v(static_cast<size_t>(n));
  std::iota(v.begin(), v.end(), 0);
  return Tensor::from<int32_t>({n}, v);
}

// The batch made by hand from row indices.
std::pair<Tensor, Tensor> expected(const std::vector<int64_t>& rows) {
  std::vector<float> f;
  std::vector<int32_t> l;
  for (int64_t r : rows) {
    f.push_back(static_cast<float>(10 * r));
    f.push_back(static_cast<float>(10 * r + 1));
    l.push_back(static_cast<int32_t>(r));
  }
  auto n = static_cast<int64_t>(rows.size());
  return {Tensor::from<float>({n, 2}, f), Tensor::from<int32_t>({n}, l)};
}

std::vector<int64_t> range(int64_t lo, int64_t hi) {
  std::vector<int64_t> v;
  for (int64_t i = lo; i < hi; ++i)
    v.push_back(i);
  return v;
}

TEST(Batcher, InOrderBatchesAreSlices) {
  Batcher b(features(10), labels(10), {.batch_size = 3});
  EXPECT_EQ(b.num_examples(), 10);
  EXPECT_EQ(b.batches_per_epoch(), 3); // drop: 10 / 3
  for (int64_t epoch : {0, 1, 5})
    for (int64_t i = 0; i < 3; ++i) {
      EXPECT_EQ(b.batch(epoch, i), expected(range(3 * i, 3 * i + 3)));
      EXPECT_EQ(b.batch_rows(i), 3);
    }
  EXPECT_EQ(b.order(4), range(0, 10));
}

TEST(Batcher, HigherRankRowsAndOtherDtypes) {
  std::vector<int64_t> v(2 * 3 * 4);
  std::iota(v.begin(), v.end(), 100);
  Tensor x = Tensor::from<int64_t>({2, 3, 4}, v);
  Tensor y = Tensor::from<bool>({2, 1}, {true, false});
  Batcher b(x, y, {.batch_size = 1});
  auto [xb, yb] = b.batch(0, 1);
  EXPECT_EQ(xb, Tensor::from<int64_t>({1, 3, 4}, std::vector<int64_t>(v.begin() + 12, v.end())));
  EXPECT_EQ(yb, Tensor::from<bool>({1, 1}, {false}));
}

TEST(Batcher, KeepGivesASmallerLastBatch) {
  Batcher b(features(10), labels(10), {.batch_size = 4, .last = LastBatch::keep});
  EXPECT_EQ(b.batches_per_epoch(), 3);
  EXPECT_EQ(b.batch(0, 0), expected(range(0, 4)));
  EXPECT_EQ(b.batch(0, 1), expected(range(4, 8)));
  EXPECT_EQ(b.batch(0, 2), expected(range(8, 10)));
  EXPECT_EQ(b.batch_rows(2), 2);
  Batcher small(features(3), labels(3), {.batch_size = 8, .last = LastBatch::keep});
  EXPECT_EQ(small.batches_per_epoch(), 1);
  EXPECT_EQ(small.batch(0, 0), expected(range(0, 3)));
}

TEST(Batcher, DropLeavesOutTheRest) {
  Batcher b(features(10), labels(10), {.batch_size = 4});
  EXPECT_EQ(b.batches_per_epoch(), 2);
  EXPECT_EQ(b.batch(0, 1), expected(range(4, 8)));
  EXPECT_THROW(b.batch(0, 2), Error);
  Batcher exact(features(8), labels(8), {.batch_size = 4, .last = LastBatch::keep});
  EXPECT_EQ(exact.batches_per_epoch(), 2);
  EXPECT_EQ(exact.batch_rows(1), 4);
}

TEST(Batcher, WrapFillsFromTheNextEpoch) {
  Batcher b(features(10), labels(10), {.batch_size = 4, .last = LastBatch::wrap});
  EXPECT_EQ(b.batches_per_epoch(), 3);
  EXPECT_EQ(b.batch(0, 2), expected({8, 9, 0, 1}));
  // Smaller than one batch: the data repeats.
  Batcher small(features(3), labels(3), {.batch_size = 8, .last = LastBatch::wrap});
  EXPECT_EQ(small.batches_per_epoch(), 1);
  EXPECT_EQ(small.batch(0, 0), expected({0, 1, 2, 0, 1, 2, 0, 1}));
  // Shuffled: the tail comes from the next epoch's permutation.
  Batcher s(features(10), labels(10),
            {.batch_size = 4, .shuffle = true, .seed = 3, .last = LastBatch::wrap});
  std::vector<int64_t> e0 = s.order(0), e1 = s.order(1);
  EXPECT_EQ(s.batch_indices(0, 2), (std::vector<int64_t>{e0[8], e0[9], e1[0], e1[1]}));
  std::vector<int64_t> rows;
  for (int64_t i = 0; i < 3; ++i)
    for (int64_t r : s.batch_indices(0, i))
      rows.push_back(r);
  std::set<int64_t> seen(rows.begin(), rows.end());
  EXPECT_EQ(seen.size(), 10u); // every example at least once
}

TEST(Batcher, ShuffleIsAPermutationPerEpoch) {
  const int64_t n = 1000;
  Batcher b(features(n), labels(n), {.batch_size = 10, .shuffle = true, .seed = 42});
  std::set<std::vector<int64_t>> orders;
  for (int64_t epoch = 0; epoch < 20; ++epoch) {
    std::vector<int64_t> rows;
    for (int64_t i = 0; i < b.batches_per_epoch(); ++i) {
      auto [x, y] = b.batch(epoch, i);
      auto labels_seen = y.values<int32_t>();
      for (int32_t r : labels_seen)
        rows.push_back(r);
      // Features and labels stay paired.
      std::vector<int64_t> idx(labels_seen.begin(), labels_seen.end());
      EXPECT_EQ(x, expected(idx).first);
    }
    EXPECT_EQ(rows, b.order(epoch));
    std::vector<int64_t> sorted = rows;
    std::sort(sorted.begin(), sorted.end());
    EXPECT_EQ(sorted, range(0, n)) << "epoch " << epoch << " is not a permutation";
    EXPECT_NE(rows, range(0, n));
    orders.insert(rows);
  }
  EXPECT_EQ(orders.size(), 20u); // a different order every epoch
}

TEST(Batcher, ShuffleIsRoughlyUniform) {
  // Where row 0 lands over many epochs: every position of 8 about equally often.
  Batcher b(features(8), labels(8), {.batch_size = 1, .shuffle = true, .seed = 1});
  std::vector<int> count(8);
  const int epochs = 8000;
  for (int64_t e = 0; e < epochs; ++e) {
    std::vector<int64_t> o = b.order(e);
    ++count[static_cast<size_t>(std::find(o.begin(), o.end(), 0) - o.begin())];
  }
  for (int c : count)
    EXPECT_NEAR(c, epochs / 8, 150) << "position counts are far from uniform";
}

TEST(Batcher, SameSeedSameBytesDifferentSeedDifferentOrder) {
  BatcherOptions o{.batch_size = 7, .shuffle = true, .seed = 99};
  Batcher a(features(50), labels(50), o), b(features(50), labels(50), o);
  for (int64_t epoch : {0, 1, 17})
    for (int64_t i = 0; i < a.batches_per_epoch(); ++i) {
      auto [xa, ya] = a.batch(epoch, i);
      auto [xb, yb] = b.batch(epoch, i);
      EXPECT_TRUE(std::ranges::equal(xa.bytes(), xb.bytes()));
      EXPECT_TRUE(std::ranges::equal(ya.bytes(), yb.bytes()));
    }
  // Asking out of order (cache misses) gives the same batches.
  EXPECT_EQ(a.batch(17, 3), b.batch(17, 3));
  EXPECT_EQ(a.batch(0, 0), b.batch(0, 0));
  o.seed = 100;
  Batcher c(features(50), labels(50), o);
  EXPECT_NE(a.order(0), c.order(0));
}

TEST(Batcher, PinnedOrder) {
  // The order for (seed 5, epoch 0) is fixed forever: a change would silently change every
  // training run that relies on it. (Fisher-Yates over random_uniform01, see batcher.cpp.)
  Batcher b(features(10), labels(10), {.batch_size = 1, .shuffle = true, .seed = 5});
  std::vector<int64_t> pinned = b.order(0);
  EXPECT_EQ(pinned, (std::vector<int64_t>{5, 1, 0, 4, 8, 6, 2, 9, 3, 7}));
}

// The algorithm docs/data.md specifies, written out independently: key = splitmix64(seed ^
// splitmix64(epoch)); for i = n-1 down to 1, step s = n-1-i: j = floor(u * (i + 1)) with
// u = random_uniform01(key, s), swap positions i and j.
uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

TEST(Batcher, OrderIsTheDocumentedFisherYates) {
  for (uint64_t seed : {0ULL, 1ULL, 0xdeadbeefULL})
    for (int64_t epoch : {0, 1, 2, 1000})
      for (int64_t n : {1, 2, 3, 17}) {
        std::vector<int64_t> want = range(0, n);
        uint64_t key = splitmix64(seed ^ splitmix64(static_cast<uint64_t>(epoch)));
        for (int64_t i = n - 1; i > 0; --i) {
          double u = random_uniform01(key, static_cast<uint64_t>(n - 1 - i));
          auto j = std::min(i, static_cast<int64_t>(u * static_cast<double>(i + 1)));
          std::swap(want[static_cast<size_t>(i)], want[static_cast<size_t>(j)]);
        }
        Batcher b(features(n), labels(n), {.batch_size = 1, .shuffle = true, .seed = seed});
        EXPECT_EQ(b.order(epoch), want) << seed << " " << epoch << " " << n;
      }
}

std::string error_of(auto&& f) {
  try {
    f();
  } catch (const Error& e) {
    EXPECT_NE(e.location().line, 0u) << "errors point at the caller";
    return e.message();
  }
  ADD_FAILURE() << "no error";
  return "";
}

#define EXPECT_ERROR(statement, substring)                                                         \
  do {                                                                                             \
    std::string m_ = error_of([&] { (void)(statement); });                                         \
    EXPECT_NE(m_.find(substring), std::string::npos) << m_;                                        \
  } while (0)

TEST(BatcherErrors, Construction) {
  EXPECT_ERROR(Batcher(features(4), labels(4), {.batch_size = 0}),
               "batch_size is 0; it must be at least 1");
  EXPECT_ERROR(Batcher(features(4), labels(4), {.batch_size = -3}), "batch_size is -3");
  EXPECT_ERROR(Batcher(features(4), labels(5), {.batch_size = 2}),
               "features f32[4,2] has 4 examples but labels i32[5] has 5");
  EXPECT_ERROR(Batcher(features(0), labels(0), {.batch_size = 2}), "no examples");
  EXPECT_ERROR(Batcher(Tensor::scalar(1.0f), labels(1), {.batch_size = 1}),
               "features f32[] is a scalar");
  EXPECT_ERROR(Batcher(features(1), Tensor::scalar(1), {.batch_size = 1}),
               "labels i32[] is a scalar");
  EXPECT_ERROR(Batcher(features(3), labels(3), {.batch_size = 4}),
               "3 examples but batch_size 4: with LastBatch::drop every epoch would be empty");
  EXPECT_ERROR(
      Batcher(features(3), labels(3), {.batch_size = 1, .last = static_cast<LastBatch>(7)}),
      "not one of drop, keep, wrap");
}

TEST(BatcherErrors, Indices) {
  Batcher b(features(10), labels(10), {.batch_size = 4});
  EXPECT_ERROR(b.batch(0, 2), "batch index 2 is out of range: an epoch has 2 batches");
  EXPECT_ERROR(b.batch(0, -1), "batch index -1 is out of range");
  EXPECT_ERROR(b.batch(-1, 0), "epoch -1 is out of range");
  EXPECT_ERROR(b.order(int64_t{1} << 40), "out of range");
  EXPECT_ERROR(b.batch_rows(5), "out of range");
}

TEST(BatcherErrors, PointAtTheCaller) {
  Batcher b(features(10), labels(10), {.batch_size = 4});
  int line = __LINE__ + 2;
  try {
    b.batch(0, 9);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.location().line, static_cast<uint32_t>(line));
    EXPECT_NE(e.location().file.find("batcher_test.cpp"), std::string::npos);
  }
}

} // namespace
} // namespace sj

#include "kernels/thread_pool.h"

#include <atomic>
#include <chrono>
#include <gtest/gtest.h>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>
#include <vector>

namespace sj {
namespace {

TEST(ThreadPool, EveryIndexOnceInStaticChunks) {
  for (int threads : {1, 2, 3, 4}) {
    ThreadPool pool(threads);
    for (int64_t n : {0, 1, 2, 3, 5, 7, 64, 1000}) {
      std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
      std::mutex mutex;
      std::set<std::pair<int64_t, int64_t>> chunks;
      pool.parallel_for(n, [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i)
          hits[size_t(i)]++;
        std::lock_guard lock(mutex);
        chunks.insert({b, e});
      });
      for (int64_t i = 0; i < n; ++i)
        EXPECT_EQ(hits[size_t(i)], 1) << "T=" << threads << " n=" << n << " i=" << i;
      // The chunks are exactly the non-empty [n*t/T, n*(t+1)/T).
      std::set<std::pair<int64_t, int64_t>> expected;
      for (int t = 0; t < threads; ++t) {
        int64_t b = n * t / threads, e = n * (t + 1) / threads;
        if (b < e) expected.insert({b, e});
      }
      EXPECT_EQ(chunks, expected) << "T=" << threads << " n=" << n;
    }
  }
}

TEST(ThreadPool, ChunkTRunsOnThreadT) {
  ThreadPool pool(2);
  std::thread::id ids[2];
  pool.parallel_for(2, [&](int64_t b, int64_t) { ids[b] = std::this_thread::get_id(); });
  EXPECT_EQ(ids[0], std::this_thread::get_id());
  EXPECT_NE(ids[1], std::this_thread::get_id());
}

TEST(ThreadPool, OneThreadRunsInlineAsOneChunk) {
  ThreadPool pool(1);
  EXPECT_EQ(pool.size(), 1);
  int calls = 0;
  const std::thread::id caller = std::this_thread::get_id();
  pool.parallel_for(10, [&](int64_t b, int64_t e) {
    EXPECT_EQ(std::this_thread::get_id(), caller);
    EXPECT_EQ(b, 0);
    EXPECT_EQ(e, 10);
    ++calls;
  });
  EXPECT_EQ(calls, 1);
}

TEST(ThreadPool, ManyCallsInARow) {
  ThreadPool pool(2);
  std::atomic<int64_t> sum{0};
  for (int call = 0; call < 20000; ++call)
    pool.parallel_for(4, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i)
        sum += i;
    });
  EXPECT_EQ(sum, 20000 * 6);
}

TEST(ThreadPool, CallsAfterWorkersFellAsleep) {
  ThreadPool pool(3);
  for (int round = 0; round < 3; ++round) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20)); // past the spin
    std::atomic<int> n{0};
    pool.parallel_for(3, [&](int64_t b, int64_t e) { n += int(e - b); });
    EXPECT_EQ(n, 3);
  }
}

TEST(ThreadPool, ExceptionReachesTheCallerAndThePoolStaysUsable) {
  ThreadPool pool(2);
  for (int thrower : {0, 1}) {
    std::atomic<int> finished{0};
    EXPECT_THROW(pool.parallel_for(2,
                                   [&](int64_t b, int64_t) {
                                     if (b == thrower) throw std::runtime_error("chunk failed");
                                     finished++;
                                   }),
                 std::runtime_error);
    EXPECT_EQ(finished, 1); // the other chunk still ran to the end
  }
  std::atomic<int> n{0};
  pool.parallel_for(2, [&](int64_t b, int64_t e) { n += int(e - b); });
  EXPECT_EQ(n, 2);
}

TEST(ThreadPool, NestedCallRunsInline) {
  ThreadPool pool(2);
  std::atomic<int> inner{0};
  pool.parallel_for(2, [&](int64_t, int64_t) {
    pool.parallel_for(5, [&](int64_t b, int64_t e) { inner += int(e - b); });
  });
  EXPECT_EQ(inner, 10);
}

TEST(ThreadPool, DestroyedIdleOrUnused) {
  { ThreadPool unused(4); }
  {
    ThreadPool pool(2);
    pool.parallel_for(2, [](int64_t, int64_t) {});
    std::this_thread::sleep_for(std::chrono::milliseconds(20)); // workers asleep
  }
  {
    ThreadPool busy_then_destroyed(2);
    busy_then_destroyed.parallel_for(2, [](int64_t, int64_t) {});
  }
  SUCCEED();
}

struct Counter {
  std::atomic<int64_t> sum{0};
  static void add(void* ctx, int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i)
      static_cast<Counter*>(ctx)->sum += i + 1;
  }
};

TEST(ThreadPool, CEntryPoint) {
  Counter inline_counter, pool_counter;
  sj_parallel_for(nullptr, 100, &Counter::add, &inline_counter);
  ThreadPool pool(2);
  sj_parallel_for(&pool, 100, &Counter::add, &pool_counter);
  EXPECT_EQ(inline_counter.sum, 5050);
  EXPECT_EQ(pool_counter.sum, 5050);
  sj_parallel_for(&pool, 0, &Counter::add, &pool_counter);
  EXPECT_EQ(pool_counter.sum, 5050);
}

} // namespace
} // namespace sj

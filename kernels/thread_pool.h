// A fixed-size fork-join pool for the compiled step: T threads = T-1 workers + the caller.
// Work is split statically (chunk t of [0, n) always covers the same indices for a given T), so
// a kernel that keeps each output element's arithmetic inside one chunk gives the same bits on
// every run. Workers spin briefly after a call (the next GEMM of a step usually follows within
// microseconds) and then sleep on a futex, so an idle pool costs nothing.
#pragma once

#include <atomic>
#include <cstdint>
#include <exception>
#include <mutex>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

namespace sj {

class ThreadPool {
public:
  using RangeFn = void (*)(void* ctx, int64_t begin, int64_t end);

  /// `threads` >= 1 threads in all, the calling thread included: threads - 1 workers are
  /// started. ThreadPool(1) starts none and runs everything inline.
  explicit ThreadPool(int threads);
  /// Wakes the workers, lets them finish and joins them.
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return size_; }

  /// Chunk t of [0, n) split into size() parts: [n*t/T, n*(t+1)/T). Empty when n < T for some t.
  static std::pair<int64_t, int64_t> chunk(int64_t n, int threads, int t) {
    return {n * t / threads, n * (t + 1) / threads};
  }

  /// Calls fn(begin, end) once for every non-empty chunk of [0, n) (see chunk()), chunk t on
  /// thread t (0 is the caller), and returns when all are done. The first exception thrown by
  /// a chunk is rethrown here, after every chunk has finished. A call from inside a chunk (or
  /// on a pool of size 1) runs the same chunks one after the other on the calling thread.
  /// Calls from different threads are serialized.
  template <typename F>
  void parallel_for(int64_t n, F&& fn) {
    using Fn = std::remove_reference_t<F>;
    run(
        n, [](void* ctx, int64_t b, int64_t e) { (*static_cast<Fn*>(ctx))(b, e); },
        const_cast<void*>(static_cast<const void*>(&fn)));
  }

  /// parallel_for with a plain function pointer (what sj_parallel_for calls).
  void run(int64_t n, RangeFn fn, void* ctx);

private:
  void worker_main(int t);
  void run_chunk(int t);

  int size_;
  std::vector<std::thread> workers_;
  std::mutex call_mutex_;  // one parallel_for at a time
  std::mutex error_mutex_; // guards error_
  std::exception_ptr error_;
  // The call being run; written by the caller before generation_ is bumped (release), read by
  // workers after they see the new generation (acquire).
  RangeFn fn_ = nullptr;
  void* ctx_ = nullptr;
  int64_t n_ = 0;
  unsigned mxcsr_ = 0; // the caller's SSE control word (x86-64), set on workers per chunk
  bool stop_ = false;
  alignas(64) std::atomic<uint32_t> generation_{0}; // bumped once per call, and at shutdown
  alignas(64) std::atomic<int32_t> pending_{0};     // workers still running the current call
};

} // namespace sj

extern "C" {
/// For JIT'd code: runs fn(ctx, begin, end) over [0, n) on `pool` (a sj::ThreadPool*) as
/// ThreadPool::run does, or inline as one chunk [0, n) when pool is null. fn must not throw
/// when the caller is JIT'd code (exceptions are rethrown to the caller of sj_parallel_for).
void sj_parallel_for(void* pool, int64_t n, void (*fn)(void* ctx, int64_t begin, int64_t end),
                     void* ctx);
}

#include "kernels/thread_pool.h"

namespace sj {

namespace {

// The pool whose chunk this thread is running, if any: a nested call runs inline instead of
// waiting for workers that are busy running its caller (which would deadlock).
thread_local const ThreadPool* tls_running = nullptr;

void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

// About 20-50 us of polling before sleeping: long enough to cover the gap between two GEMMs
// of one training step, short enough that an idle pool uses no CPU.
constexpr int kSpinIterations = 1 << 11;

// Waits until `a` no longer holds `old`: a bounded spin, then a futex wait (std::atomic::wait).
template <typename T>
T wait_change(const std::atomic<T>& a, T old) {
  for (int i = 0; i < kSpinIterations; ++i) {
    T v = a.load(std::memory_order_acquire);
    if (v != old) return v;
    cpu_relax();
  }
  for (;;) {
    a.wait(old, std::memory_order_acquire);
    T v = a.load(std::memory_order_acquire);
    if (v != old) return v;
  }
}

} // namespace

ThreadPool::ThreadPool(int threads) : size_(threads < 1 ? 1 : threads) {
  workers_.reserve(size_t(size_ - 1));
  for (int t = 1; t < size_; ++t)
    workers_.emplace_back([this, t] { worker_main(t); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard lock(call_mutex_);
    stop_ = true;
    generation_.fetch_add(1, std::memory_order_release);
  }
  generation_.notify_all();
  for (auto& w : workers_)
    w.join();
}

void ThreadPool::run_chunk(int t) {
  auto [b, e] = chunk(n_, size_, t);
  if (b >= e) return;
#if defined(__x86_64__)
  // The caller's floating-point mode (flush-to-zero, denormals-are-zero, rounding), so a chunk
  // computes the same bits on a worker as it would on the caller.
  if (t != 0) __builtin_ia32_ldmxcsr(mxcsr_);
#endif
  try {
    fn_(ctx_, b, e);
  } catch (...) {
    std::lock_guard lock(error_mutex_);
    if (!error_) error_ = std::current_exception();
  }
}

void ThreadPool::worker_main(int t) {
  tls_running = this;
  uint32_t seen = 0;
  for (;;) {
    seen = wait_change(generation_, seen);
    if (stop_) return;
    run_chunk(t);
    if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) pending_.notify_one();
  }
}

void ThreadPool::run(int64_t n, RangeFn fn, void* ctx) {
  if (n <= 0) return;
  if (size_ == 1 || tls_running == this) {
    for (int t = 0; t < size_; ++t) {
      auto [b, e] = chunk(n, size_, t);
      if (b < e) fn(ctx, b, e);
    }
    return;
  }
  std::lock_guard lock(call_mutex_);
  fn_ = fn;
  ctx_ = ctx;
  n_ = n;
#if defined(__x86_64__)
  mxcsr_ = __builtin_ia32_stmxcsr();
#endif
  error_ = nullptr;
  pending_.store(size_ - 1, std::memory_order_relaxed);
  generation_.fetch_add(1, std::memory_order_release);
  generation_.notify_all();

  const ThreadPool* outer = std::exchange(tls_running, this);
  run_chunk(0);
  tls_running = outer;

  for (int32_t left = pending_.load(std::memory_order_acquire); left != 0;)
    left = wait_change(pending_, left);
  if (error_) std::rethrow_exception(std::exchange(error_, nullptr));
}

} // namespace sj

extern "C" void sj_parallel_for(void* pool, int64_t n,
                                void (*fn)(void* ctx, int64_t begin, int64_t end), void* ctx) {
  if (pool)
    static_cast<sj::ThreadPool*>(pool)->run(n, fn, ctx);
  else if (n > 0)
    fn(ctx, 0, n);
}

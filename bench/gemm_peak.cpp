#include "gemm_peak.h"

#include "kernels/gemm.h"
#include "kernels/thread_pool.h"

#include <Eigen/Core>
#include <algorithm>
#include <chrono>
#include <map>
#include <mutex>

namespace bench {

using RowMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

SquareSgemm::SquareSgemm(int64_t n) : n_(n), a_(n * n), b_(n * n), c_(n * n) {
  for (int64_t i = 0; i < n * n; ++i) {
    a_[i] = float(i % 13) * 0.01f;
    b_[i] = float(i % 7) * 0.02f;
  }
}

void SquareSgemm::run(int threads) {
  Eigen::setNbThreads(threads);
  Eigen::Map<RowMatrix>(c_.data(), n_, n_).noalias() =
      Eigen::Map<const RowMatrix>(a_.data(), n_, n_) *
      Eigen::Map<const RowMatrix>(b_.data(), n_, n_);
}

void SquareSgemm::run_stepjit(sj::ThreadPool& pool) {
  SjGemmArgs args{};
  args.m = args.n = args.k = n_;
  args.a = a_.data();
  args.lda = n_;
  args.b = b_.data();
  args.ldb = n_;
  args.c = c_.data();
  args.ldc = n_;
  args.pool = pool.size() > 1 ? &pool : nullptr;
  sj_gemm_f32(&args);
}

double gemm_peak_gflops(int threads) {
  static std::mutex mutex;
  static std::map<int, double> peaks;
  std::lock_guard lock(mutex);
  if (auto it = peaks.find(threads); it != peaks.end()) return it->second;
  SquareSgemm gemm(kPeakSize);
  sj::ThreadPool pool(threads);
  double best = 0;
  // The better of the two GEMMs in this binary: Eigen's and stepjit's own kernel.
  for (bool eigen : {true, false}) {
    auto run = [&] { eigen ? gemm.run(threads) : gemm.run_stepjit(pool); };
    run(); // warm up: page in the operands, start the threads
    for (int rep = 0; rep < 5; ++rep) {
      auto start = std::chrono::steady_clock::now();
      run();
      std::chrono::duration<double> seconds = std::chrono::steady_clock::now() - start;
      best = std::max(best, gemm.flops() / seconds.count() * 1e-9);
    }
  }
  return peaks[threads] = best;
}

} // namespace bench

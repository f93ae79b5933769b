#include "gemm_peak.h"

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

double gemm_peak_gflops(int threads) {
  static std::mutex mutex;
  static std::map<int, double> peaks;
  std::lock_guard lock(mutex);
  if (auto it = peaks.find(threads); it != peaks.end()) return it->second;
  SquareSgemm gemm(kPeakSize);
  gemm.run(threads); // warm up: page in the operands, start the thread pool
  double best = 0;
  for (int rep = 0; rep < 5; ++rep) {
    auto start = std::chrono::steady_clock::now();
    gemm.run(threads);
    std::chrono::duration<double> seconds = std::chrono::steady_clock::now() - start;
    best = std::max(best, gemm.flops() / seconds.count() * 1e-9);
  }
  return peaks[threads] = best;
}

} // namespace bench

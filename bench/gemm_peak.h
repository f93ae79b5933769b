// The machine's practical single-precision peak: the better of Eigen's GEMM (compiled like the
// Eigen steps: -O3 -march=native, OpenMP) and stepjit's kernel (kernels/gemm.h) on a large
// square product. The step benchmarks report their GFLOP/s as a percentage of it.
#pragma once

#include <cstdint>
#include <vector>

namespace sj {
class ThreadPool;
}

namespace bench {

/// C = A · B with n x n row-major operands filled with fixed values.
class SquareSgemm {
public:
  explicit SquareSgemm(int64_t n);
  void run(int threads); // Eigen
  void run_stepjit(sj::ThreadPool& pool);
  double flops() const { return 2.0 * double(n_) * double(n_) * double(n_); }

private:
  int64_t n_;
  std::vector<float> a_, b_, c_;
};

inline constexpr int64_t kPeakSize = 2048;

/// The best GFLOP/s of a few 2048³ products on `threads` threads, measured on first use and
/// remembered for the process.
double gemm_peak_gflops(int threads);

} // namespace bench

// A 64-byte aligned float buffer that only grows: the kernels' per-thread scratch (packed GEMM
// panels, convolution partials), so that after the first calls of a training step no kernel
// allocates.
#pragma once

#include <cstddef>
#include <cstdint>
#include <new>

namespace sj {

class AlignedBuffer {
public:
  AlignedBuffer() = default;
  AlignedBuffer(const AlignedBuffer&) = delete;
  AlignedBuffer& operator=(const AlignedBuffer&) = delete;
  ~AlignedBuffer() { release(); }
  /// At least `floats` floats, 64-byte aligned; earlier contents are lost when it grows.
  float* get(size_t floats) {
    if (floats > size_) {
      release();
      data_ = static_cast<float*>(::operator new (floats * sizeof(float), std::align_val_t{64}));
      size_ = floats;
    }
    return data_;
  }

private:
  void release() {
    if (data_) ::operator delete (data_, std::align_val_t{64});
    data_ = nullptr;
    size_ = 0;
  }
  float* data_ = nullptr;
  size_t size_ = 0;
};

/// x rounded up to a multiple of m (x >= 0, m > 0).
inline int64_t round_up(int64_t x, int64_t m) { return (x + m - 1) / m * m; }

} // namespace sj

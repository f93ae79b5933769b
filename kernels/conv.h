// The f32 convolutions that compiled steps call: conv2d and its two gradients as implicit GEMMs
// on the packed GEMM of kernels/gemm.h (the im2col happens inside the packing of A, one cache
// block at a time; no im2col buffer). NHWC, kernel [KH, KW, C/groups, F], the geometry of
// graph/ops/window.h. See docs/performance.md ("Convolutions").
#pragma once

#include "kernels/gemm.h"

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// The arguments of the three convolutions. Every field is 8 bytes, so field i is at byte
/// offset 8 * i and JIT'd code builds the struct on its stack as 22 words. Of x, kernel and y,
/// each call reads two and writes the third (wholly; it must not overlap the others).
typedef struct SjConvArgs {
  int64_t n, h, w, c;             ///<  0..24: x is [n, h, w, c]
  int64_t oh, ow, f;              ///< 32..48: y (or dy) is [n, oh, ow, f]
  int64_t kh, kw;                 ///< 56, 64: kernel is [kh, kw, c / groups, f]
  int64_t stride_h, stride_w;     ///< 72, 80
  int64_t dilation_h, dilation_w; ///< 88, 96
  int64_t pad_top, pad_left;      ///< 104, 112: padding before the first row and column
  int64_t groups;                 ///< 120: divides c and f
  float* x;                       ///< 128
  float* kernel;                  ///< 136
  float* y;                       ///< 144: y for conv2d, dy for the gradients
  SjGemmEpilogue epilogue;        ///< 152: conv2d with groups = 1 only: called on blocks of y
  void* epilogue_ctx;             ///< 160:   seen as an [n*oh*ow, f] matrix; else null
  void* pool;                     ///< 168: a sj::ThreadPool*, or null
} SjConvArgs;

/// y = conv2d(x, kernel). Each element of y is one FMA chain over (kh, kw, c) in that order
/// (padding taps contribute exact zeros), whatever the thread count.
void sj_conv2d_f32(const SjConvArgs* args);
/// x = conv2d_backprop_input(dy = y, kernel): each element one FMA chain over (kh, kw, f).
void sj_conv2d_backprop_input_f32(const SjConvArgs* args);
/// kernel = conv2d_backprop_kernel(x, dy = y): each element one FMA chain over (n, oh, ow).
void sj_conv2d_backprop_kernel_f32(const SjConvArgs* args);

#ifdef __cplusplus
} // extern "C"
#endif

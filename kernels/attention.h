// The attention kernels that compiled steps call (graph/ops/attention.cpp defines the ops):
// FlashAttention's schedule on the CPU. A block of queries meets one block of keys and values at
// a time (kept in cache, the keys transposed so the scores of 16 keys form one vector), with a
// running maximum and sum per query row, so no [Tq, Tk] matrix exists; with `causal`, key
// blocks wholly above the diagonal are never visited. The backward recomputes the probabilities
// block by block from the saved log-sum-exp. See docs/compiler.md ("Attention").
#pragma once

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// The arguments of every attention kernel. Every field is 8 bytes, so field i is at byte
/// offset 8 * i and JIT'd code builds the struct on its stack as 20 words. Tensors are
/// row-major: q, y, dy [b, h, tq, d]; k, v [b, h, tk, d]; lse [b, h, tq]; of the kernel's dtype.
typedef struct SjAttentionArgs {
  int64_t b, h, tq, tk, d; ///<  0..32
  int64_t causal;          ///< 40: nonzero: query i sees key j only when j <= i + tk - tq
  double scale;            ///< 48: the scores' factor (already resolved: 1/sqrt(d) by default)
  const void* q;           ///< 56
  const void* k;           ///< 64
  const void* v;           ///< 72: unused by the forward when y is null
  const void* mask;        ///< 80: added to the scores, or null for none
  int64_t mask_stride[4];  ///< 88..112: the mask's element strides along b, h, i, j (0: broadcast)
  const void* y;           ///< 120: backward: the forward's output
  const void* dy;          ///< 128: backward: the gradient of y
  void* lse;               ///< 136: forward: written when not null; backward: read
  void* out;               ///< 144: forward: y (or null: lse only); backward: [b, h, tq+2tk, d]
  void* pool;              ///< 152: a sj::ThreadPool*, or null
} SjAttentionArgs;

/// y = attention(q, k, v, mask) and/or lse = attention_lse(q, k, mask). Rows whose every score
/// is -inf give y = 0 and lse = -inf. Each row is computed by one thread, in the same order
/// whatever the thread count (bit-identical results).
void sj_attention_f32(const SjAttentionArgs* args);
void sj_attention_f64(const SjAttentionArgs* args);
/// out = attention_backprop(q, k, v, mask, y, dy, lse): dq, dk, dv stacked along axis 2.
/// Bit-identical for any thread count as well.
void sj_attention_backprop_f32(const SjAttentionArgs* args);
void sj_attention_backprop_f64(const SjAttentionArgs* args);

#ifdef __cplusplus
} // extern "C"
#endif

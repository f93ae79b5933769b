# matmul_transpose_flag: a matmul operand transpose(x) that swaps the last two dimensions (and
# keeps the batch dimensions) is x with the operand's transpose flag flipped: the kernel reads
# the same matrix. Other perms stay transposes.
# RUN: stepjit dump %s --stage=simplified
graph matmul_transpose_flag {
  %a = input : f32[5,3]
  %b = input : f32[5,4]
  %c = input : f32[2,4,3]
  %d = input : f32[2,5,4]
  %e = input : f32[4,2,3]
  %0 = transpose(%a) {perm = [1, 0]} : f32[3,5]
  %ab = matmul(%0, %b) : f32[3,4]
  %1 = transpose(%b) {perm = [1, 0]} : f32[4,5]
  %ba = matmul(%a, %1) {transpose_a = true, transpose_b = true} : f32[3,4]
  %2 = transpose(%c) {perm = [0, 2, 1]} : f32[2,3,4]
  %3 = transpose(%d) {perm = [0, 2, 1]} : f32[2,4,5]
  %batched = matmul(%2, %3) : f32[2,3,5]
  %4 = transpose(%e) {perm = [1, 2, 0]} : f32[2,3,4]
  %kept = matmul(%4, %3) : f32[2,3,5]
  output ab = %ab
  output ba = %ba
  output batched = %batched
  output kept = %kept
}
# CHECK:      graph matmul_transpose_flag {
# CHECK:        %e = input : f32[4,2,3]
# a^T b, written with a transpose node: the flag instead.
# CHECK-NOT:    transpose(%a)
# CHECK:        %ab = matmul(%a, %b) {transpose_a = true} : f32[3,4]
# Flags flipped on both operands of a batched matmul:
# CHECK-NOT:    transpose(%b)
# CHECK-NOT:    transpose(%c)
# CHECK-NOT:    transpose(%d)
# CHECK:        %batched = matmul(%c, %d) {transpose_a = true, transpose_b = true} : f32[2,3,5]
# [1,2,0] is not a swap of the last two dimensions: the transpose stays (d's goes).
# CHECK-NEXT:   [[T:%[0-9]+]] = transpose(%e) {perm = [1, 2, 0]} : f32[2,3,4]
# CHECK-NEXT:   %kept = matmul([[T]], %d) {transpose_b = true} : f32[2,3,5]
# a^T (b^T)^T is a^T b again: flipping transpose_b = true to false makes it %ab.
# CHECK-NEXT:   output ab = %ab
# CHECK-NEXT:   output ba = %ab
# CHECK:      # simplify: matmul_transpose_flag removed 4

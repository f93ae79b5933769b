# sum_over_size_one: reduce_sum, reduce_mean or reduce_max over axes that all have size 1 reduce
# one element each: a reshape (nothing with keepdims). reduce_max and integer sums are exactly
# that. A floating-point sum or mean of one element is 0 + x in the interpreter (its sum starts
# at +0.0), which turns -0.0 into +0.0; to keep every bit it becomes add(reshape(x), 0.0), an
# elementwise op that computes exactly that.
# RUN: stepjit dump %s --stage=simplified
graph sum_over_size_one {
  %x = input : f32[4,1]
  %i = input : i32[4,1,2]
  %max = reduce_max(%x) {axes = [1]} : f32[4]
  %isum = reduce_sum(%i) {axes = [1], keepdims = true} : i32[4,1,2]
  %isum2 = reduce_sum(%i) {axes = [-2]} : i32[4,2]
  %sum = reduce_sum(%x) {axes = [1]} : f32[4]
  %mean = reduce_mean(%x) {axes = [1], keepdims = true} : f32[4,1]
  %all = reduce_sum(%x) {axes = [0, 1]} : f32[]
  output max = %max
  output isum = %isum
  output isum2 = %isum2
  output sum = %sum
  output mean = %mean
  output all = %all
}
# CHECK:      graph sum_over_size_one {
# CHECK:        %i = input : i32[4,1,2]
# CHECK-NOT:    reduce_max(
# CHECK-NOT:    reduce_mean(
# CHECK:        %max = reshape(%x) {shape = [4]} : f32[4]
# CHECK-NEXT:   %isum2 = reshape(%i) {shape = [4, 2]} : i32[4,2]
# The float sum and mean: x + 0.0 (the sum shares the max's reshape).
# CHECK-NEXT:   [[ZERO:%[0-9]+]] = constant {value = 0.0} : f32[]
# CHECK-NEXT:   %sum = add(%max, [[ZERO]]) : f32[4]
# CHECK-NEXT:   %mean = add(%x, [[ZERO]]) : f32[4,1]
# Axis 0 has 4 elements: a real sum.
# CHECK-NEXT:   %all = reduce_sum(%x) {axes = [0, 1]} : f32[]
# CHECK-NEXT:   output max = %max
# keepdims over a size-1 axis of an integer: nothing at all.
# CHECK-NEXT:   output isum = %i
# CHECK:      # simplify: sum_over_size_one removed 5

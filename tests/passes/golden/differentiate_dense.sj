# The gradient graph of one dense layer with a relu and an MSE loss. Reverse mode visits the
# loss first: reduce_mean spreads 1/count, square doubles, the bias gradient sums the batch,
# relu masks, and each matmul gradient is a matmul with a transpose flag (no transpose node).
# RUN: stepjit dump %s --stage=grad --wrt=all-variables
graph dense {
  %x = input : f32[4,3]
  %y = input : f32[4,2]
  %w = variable {init = glorot_uniform, seed = 1} : f32[3,2]
  %b = variable : f32[2]
  %0 = matmul(%x, %w) : f32[4,2]
  %1 = add(%0, %b) : f32[4,2]
  %pred = relu(%1) : f32[4,2]
  %2 = sub(%pred, %y) : f32[4,2]
  %3 = square(%2) : f32[4,2]
  %loss = reduce_mean(%3) {axes = [0, 1]} : f32[]
  output loss = %loss
}
# The forward graph is unchanged:
# CHECK:      %loss = reduce_mean(%3) {axes = [0, 1]} : f32[]
# d loss / d loss = 1, spread over the 8 elements:
# CHECK-NEXT: [[ONE:%[0-9]+]] = constant {value = 1.0} : f32[]
# CHECK-NEXT: [[KD:%[0-9]+]] = reshape([[ONE]]) {shape = [1, 1]} : f32[1,1]
# CHECK-NEXT: [[N:%[0-9]+]] = constant {value = 8.0} : f32[]
# CHECK-NEXT: [[MEAN:%[0-9]+]] = div([[KD]], [[N]]) : f32[1,1]
# CHECK-NEXT: [[G3:%[0-9]+]] = broadcast_to([[MEAN]]) {shape = [4, 2]} : f32[4,2]
# square: 2 x g
# CHECK-NEXT: [[T:%[0-9]+]] = mul([[G3]], %2) : f32[4,2]
# CHECK-NEXT: [[TWO:%[0-9]+]] = constant {value = 2.0} : f32[]
# CHECK-NEXT: [[G2:%[0-9]+]] = mul([[T]], [[TWO]]) : f32[4,2]
# relu: the gradient passes where the pre-activation is positive
# CHECK:      [[POS:%[0-9]+]] = greater(%1, {{%[0-9]+}}) : bool[4,2]
# CHECK-NEXT: [[ZERO:%[0-9]+]] = constant {value = 0.0} : f32[]
# CHECK-NEXT: [[G1:%[0-9]+]] = select([[POS]], [[G2]], [[ZERO]]) : f32[4,2]
# bias: summed over the batch
# CHECK-NEXT: [[SUM:%[0-9]+]] = reduce_sum([[G1]]) {axes = [0], keepdims = true} : f32[1,2]
# CHECK-NEXT: %grad.b = reshape([[SUM]]) {shape = [2]} : f32[2]
# kernel: x^T g as one matmul with transpose_a
# CHECK-NEXT: %grad.w = matmul(%x, [[G1]]) {transpose_a = true} : f32[3,2]
# CHECK-NOT:  transpose(
# CHECK:      output grad.w = %grad.w
# CHECK-NEXT: output grad.b = %grad.b

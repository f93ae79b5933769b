# broadcast_of_scalar: an elementwise op (arithmetic, comparison, select) whose operand is
# broadcast_to(y), where y broadcasts to the result implicitly anyway, uses y: the kernel reads
# the same element either way. A broadcast_to to its operand's own shape is removed. As in a
# gradient: d mean / d x spreads 1/count with a broadcast_to into the shape of the error.
# RUN: stepjit dump %s --stage=simplified
graph broadcast_of_scalar {
  %err = input : f32[32,1]
  %v = input : f32[3]
  %c = input : bool[4,3]
  %s = input : f32[]
  %scale = input : f32[1,1]
  %0 = broadcast_to(%scale) {shape = [32, 1]} : f32[32,1]
  %g = mul(%0, %err) : f32[32,1]
  %1 = broadcast_to(%s) {shape = [4, 3]} : f32[4,3]
  %2 = broadcast_to(%v) {shape = [4, 3]} : f32[4,3]
  %sel = select(%c, %1, %2) : f32[4,3]
  %3 = broadcast_to(%v) {shape = [3]} : f32[3]
  %4 = greater(%3, %s) : bool[3]
  %needed = add(%1, %v) : f32[4,3]
  output g = %g
  output sel = %sel
  output positive = %4
  output needed = %needed
}
# CHECK:      graph broadcast_of_scalar {
# CHECK:        %scale = input : f32[1,1]
# [1,1] broadcasts against [32,1] by itself:
# CHECK-NOT:    broadcast_to(%scale)
# CHECK:        %g = mul(%scale, %err) : f32[32,1]
# %s is needed as a [4,3] below (s + v is only [3]), so that broadcast stays:
# CHECK-NEXT:   [[S43:%[0-9]+]] = broadcast_to(%s) {shape = [4, 3]} : f32[4,3]
# select broadcasts its three operands together:
# CHECK-NOT:    broadcast_to(%v)
# CHECK:        %sel = select(%c, %s, %v) : f32[4,3]
# A broadcast to the operand's own shape:
# CHECK-NOT:    broadcast_to(%v)
# CHECK:        [[POS:%[0-9]+]] = greater(%v, %s) : bool[3]
# CHECK-NEXT:   %needed = add([[S43]], %v) : f32[4,3]
# CHECK-NEXT:   output g = %g
# CHECK-NEXT:   output sel = %sel
# CHECK-NEXT:   output positive = [[POS]]
# CHECK:      # simplify: broadcast_of_scalar removed 3

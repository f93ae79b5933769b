# reshape_chain: reshape(reshape(y)) is one reshape of y (row-major order does not depend on the
# intermediate shape), and y itself when that is y's shape; a reshape to the operand's own shape
# is removed.
# RUN: stepjit dump %s --stage=simplified
graph reshape_chain {
  %x = input : f32[2,3,4]
  %0 = reshape(%x) {shape = [6, 4]} : f32[6,4]
  %flat = reshape(%0) {shape = [24]} : f32[24]
  %1 = reshape(%flat) {shape = [4, 6]} : f32[4,6]
  %2 = reshape(%1) {shape = [2, 3, 4]} : f32[2,3,4]
  %3 = reshape(%x) {shape = [2, 3, 4]} : f32[2,3,4]
  %4 = add(%2, %3) : f32[2,3,4]
  %5 = reshape(%1) {shape = [24, 1]} : f32[24,1]
  output sum = %4
  output flat = %flat
  output column = %5
}
# CHECK:      graph reshape_chain {
# CHECK-NEXT:   %x = input : f32[2,3,4]
# CHECK-NOT:    shape = [6, 4]
# CHECK:        %flat = reshape(%x) {shape = [24]} : f32[24]
# Back to [2,3,4] through [6,4], [24] and [4,6]: x itself; and x reshaped to its own shape.
# CHECK-NOT:    shape = [4, 6]
# CHECK-NOT:    shape = [2, 3, 4]
# CHECK:        [[SUM:%[0-9]+]] = add(%x, %x) : f32[2,3,4]
# CHECK-NEXT:   [[COL:%[0-9]+]] = reshape(%x) {shape = [24, 1]} : f32[24,1]
# CHECK-NEXT:   output sum = [[SUM]]
# CHECK-NEXT:   output flat = %flat
# CHECK-NEXT:   output column = [[COL]]
# CHECK:      # simplify: reshape_chain removed 5

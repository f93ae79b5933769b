# transpose_of_transpose: transpose(transpose(y, p1), p2) is one transpose of y with the composed
# perm q[i] = p1[p2[i]], and nothing at all when q is the identity; a transpose with the
# identity perm is removed too.
# RUN: stepjit dump %s --stage=simplified
graph transpose_of_transpose {
  %x = input : f32[2,3,4]
  %0 = transpose(%x) {perm = [1, 2, 0]} : f32[3,4,2]
  %back = transpose(%0) {perm = [2, 0, 1]} : f32[2,3,4]
  %swapped = transpose(%0) {perm = [1, 0, 2]} : f32[4,3,2]
  %same = transpose(%x) {perm = [0, 1, 2]} : f32[2,3,4]
  %1 = add(%back, %same) : f32[2,3,4]
  output sum = %1
  output swapped = %swapped
}
# CHECK:      graph transpose_of_transpose {
# CHECK-NEXT:   %x = input : f32[2,3,4]
# [1,2,0] then [1,0,2]: result dimension i is x's dimension [1,2,0][[1,0,2][i]] = [2,1,0][i].
# CHECK-NOT:    perm = [1, 2, 0]
# CHECK:        %swapped = transpose(%x) {perm = [2, 1, 0]} : f32[4,3,2]
# [1,2,0] then [2,0,1] is the identity, and so is [0,1,2]: both are x.
# CHECK-NOT:    transpose(
# CHECK:        [[SUM:%[0-9]+]] = add(%x, %x) : f32[2,3,4]
# CHECK-NEXT:   output sum = [[SUM]]
# CHECK-NEXT:   output swapped = %swapped
# CHECK:      # simplify: transpose_of_transpose removed 3

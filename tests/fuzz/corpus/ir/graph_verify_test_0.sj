graph g {
  %x = input : f32[4,3]
  %y = input : f32[3,2]
  %w = variable : f32[3,2]
  %0 = matmul(%x, %w) : f32[4,2]
  %s = reduce_sum(%0) {axes = [0], keepdims = true} : f32[1,2]
  %1 = assign(%w, %y) : f32[3,2]
  output s = %s
}

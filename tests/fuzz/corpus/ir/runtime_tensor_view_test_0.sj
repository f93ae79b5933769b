graph g {
  %x = input : f32[2,3]
  %y = reduce_sum(%x) {axes = [1]} : f32[2]
  output y = %y
}

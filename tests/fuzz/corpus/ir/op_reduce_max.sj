graph reduce_max {
  %x = input : f32[2,3,4]
  %r = reduce_max(%x) {axes = [0, 2]} : f32[3]
  %k = reduce_max(%x) {axes = [1], keepdims = true} : f32[2,1,4]
  output r = %r
  output k = %k
}

graph empty {
  %x = input : f32[0,3]
  %y = exp(%x) : f32[0,3]
  %s = reduce_sum(%y) {axes = [0]} : f32[3]
  %m = softmax(%x) {axis = 0} : f32[0,3]
  output s = %s
  output m = %m
}

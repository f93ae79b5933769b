graph empty2 {
  %a = input : f32[2,0]
  %b = input : f32[0,3]
  %m = matmul(%a, %b) : f32[2,3]
  %c = concat(%a, %a) {axis = 1} : f32[2,0]
  %t = transpose(%c) {perm = [1, 0]} : f32[0,2]
  %r = reduce_max(%b) {axes = [1]} : f32[0]
  %l = log_softmax(%a) {axis = 0} : f32[2,0]
  output m = %m
  output t = %t
  output r = %r
  output l = %l
}

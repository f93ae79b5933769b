graph g {
  %x = input : f32[4,1]
  %i = input : i32[4,1]
  %s = reduce_sum(%x) {axes = [1]} : f32[4]
  %m = reduce_mean(%x) {axes = [-1], keepdims = true} : f32[4,1]
  %k = reduce_max(%x) {axes = [1]} : f32[4]
  %n = reduce_sum(%i) {axes = [1], keepdims = true} : i32[4,1]
  output s = %s
  output m = %m
  output k = %k
  output n = %n
}

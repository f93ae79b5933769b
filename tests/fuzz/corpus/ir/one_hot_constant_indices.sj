graph one_hot_c {
  %i = constant {value = [0, 3, 1]} : i64[3]
  %h = one_hot(%i) {depth = 3} : f32[3,3]
  %s = reduce_max(%h) {axes = [1]} : f32[3]
  output s = %s
}

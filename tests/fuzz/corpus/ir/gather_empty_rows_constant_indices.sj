graph gather_empty {
  %t = input : f32[4,0]
  %i = constant {value = [3, 1]} : i32[2]
  %g = gather(%t, %i) : f32[2,0]
  %s = reduce_sum(%g) {axes = [0, 1]} : f32[]
  output g = %g
  output s = %s
}

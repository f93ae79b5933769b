graph g {
  %a = constant {value = 2.0} : f32[]
  %b = constant {value = 3.0} : f32[]
  %small = mul(%a, %b) : f32[]
  %big = constant {value = 1.0} : f32[2000]
  %c = mul(%big, %a) : f32[2000]
  %d = broadcast_to(%a) {shape = [4]} : f32[4]
  %e = reduce_sum(%big) {axes = [0]} : f32[]
  output small = %small
  output c = %c
  output d = %d
  output e = %e
}

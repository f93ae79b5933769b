graph net {
  %x = input : f32[4,3]
  %w = variable {init = glorot_uniform, seed = 1} : f32[3,2]
  %c = constant {value = 0.5} : f32[]
  %0 = matmul(%x, %w) : f32[4,2]
  %h = mul(%0, %c) : f32[4,2]
  %1 = relu(%h) : f32[4,2]
  %s = reduce_sum(%1) {axes = [0, 1]} : f32[]
  %v = variable : f32[]
  %2 = assign(%v, %s) : f32[]
  output y = %1
  output s = %2
}

graph train {
  %x = input : f32[4,3]
  %y = input : f32[4,2]
  %w = variable {init = glorot_uniform, seed = 1} : f32[3,2]
  %h = matmul(%x, %w) : f32[4,2]
  %d = sub(%h, %y) : f32[4,2]
  %g = matmul(%x, %d) {transpose_a = true} : f32[3,2]
  %lr = constant {value = 0.125} : f32[]
  %s = mul(%g, %lr) : f32[3,2]
  %w1 = sub(%w, %s) : f32[3,2]
  %a = assign(%w, %w1) : f32[3,2]
  %sq = square(%d) : f32[4,2]
  %loss = reduce_mean(%sq) {axes = [0, 1]} : f32[]
  output loss = %loss
}

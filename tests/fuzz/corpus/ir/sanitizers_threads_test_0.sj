graph threads {
  %x = input : f32[64,128]
  %y = input : f32[64,64]
  %w = variable {init = glorot_uniform, seed = 3} : f32[128,64]
  %h = matmul(%x, %w) : f32[64,64]
  %d = sub(%h, %y) : f32[64,64]
  %l = square(%d) : f32[64,64]
  %loss = reduce_mean(%l) {axes = [0, 1]} : f32[]
  %g = matmul(%x, %d) {transpose_a = true} : f32[128,64]
  %lr = constant {value = 0.001} : f32[]
  %s = mul(%g, %lr) : f32[128,64]
  %w1 = sub(%w, %s) : f32[128,64]
  %a = assign(%w, %w1) : f32[128,64]
  output loss = %loss
}

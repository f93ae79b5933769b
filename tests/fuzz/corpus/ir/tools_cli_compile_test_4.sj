graph tiny {
  %x = input : f32[4,3]
  %w = variable {init = glorot_uniform, seed = 1} : f32[3,2]
  %pred = matmul(%x, %w) : f32[4,2]
  output pred = %pred
}

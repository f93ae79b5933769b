graph classifier {
  %x = input : f32[8,4]
  %w = variable {init = glorot_uniform, seed = 1} : f32[4,3]
  %logits = matmul(%x, %w) : f32[8,3]
  output logits = %logits
}

graph classifier {
  %x = input : f32[16,2]
  %dense_0/kernel = variable {init = glorot_uniform, seed = 1} : f32[2,3]
  %dense_0/bias = variable : f32[3]
  %0 = matmul(%x, %dense_0/kernel) : f32[16,3]
  %logits = add(%0, %dense_0/bias) : f32[16,3]
  output logits = %logits
}

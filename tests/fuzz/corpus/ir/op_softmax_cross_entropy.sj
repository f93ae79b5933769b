graph sce {
  %x = input : f32[4,3]
  %labels = input : i32[4]
  %l = softmax_cross_entropy(%x, %labels) : f32[]
  output l = %l
}

graph sce_c {
  %x = input : f32[2,3]
  %labels = constant {value = [2, 0]} : i32[2]
  %l = softmax_cross_entropy(%x, %labels) : f32[]
  output l = %l
}

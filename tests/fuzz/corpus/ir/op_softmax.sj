graph softmax {
  %x = input : f32[2,3]
  %s = softmax(%x) : f32[2,3]
  %l = log_softmax(%x) {axis = 0} : f32[2,3]
  output s = %s
  output l = %l
}

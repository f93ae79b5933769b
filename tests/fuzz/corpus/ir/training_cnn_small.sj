graph cnn_small {
  %x = input : f32[2,6,6,1]
  %labels = input : i32[2]
  %k = variable {init = glorot_uniform, seed = 1} : f32[3,3,1,4]
  %0 = conv2d(%x, %k) {padding = same} : f32[2,6,6,4]
  %1 = relu(%0) : f32[2,6,6,4]
  %2 = max_pool2d(%1) {window = [2, 2]} : f32[2,3,3,4]
  %3 = reshape(%2) {shape = [2, 36]} : f32[2,36]
  %w = variable {init = glorot_uniform, seed = 2} : f32[36,3]
  %4 = matmul(%3, %w) : f32[2,3]
  %loss = softmax_cross_entropy(%4, %labels) : f32[]
  %5 = conv2d_backprop_kernel(%x, %0) {kernel_shape = [3, 3, 1, 4], padding = same} : f32[3,3,1,4]
  %lr = constant {value = 0.01} : f32[]
  %6 = mul(%5, %lr) : f32[3,3,1,4]
  %7 = sub(%k, %6) : f32[3,3,1,4]
  %8 = assign(%k, %7) : f32[3,3,1,4]
  output loss = %loss
}

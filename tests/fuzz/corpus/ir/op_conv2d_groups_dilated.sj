graph conv_groups {
  %x = input : f64[1,7,6,4]
  %k = input : f64[2,3,2,6]
  %0 = conv2d(%x, %k) {padding = [[1, 0], [2, 1]], dilations = [2, 1], groups = 2} : f64[1,6,7,6]
  %dy = input : f64[1,6,7,6]
  %1 = conv2d_backprop_input(%dy, %k) {input_shape = [1, 7, 6, 4], padding = [[1, 0], [2, 1]], dilations = [2, 1], groups = 2} : f64[1,7,6,4]
  %2 = conv2d_backprop_kernel(%x, %dy) {kernel_shape = [2, 3, 2, 6], padding = [[1, 0], [2, 1]], dilations = [2, 1], groups = 2} : f64[2,3,2,6]
  output y = %0
  output dx = %1
  output dk = %2
}

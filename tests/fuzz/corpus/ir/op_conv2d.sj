graph conv {
  %x = input : f32[2,5,5,3]
  %k = variable {init = glorot_uniform, seed = 1} : f32[3,3,3,4]
  %b = variable : f32[4]
  %0 = conv2d(%x, %k) {strides = [2, 2], padding = same} : f32[2,3,3,4]
  %1 = add(%0, %b) : f32[2,3,3,4]
  %y = relu(%1) : f32[2,3,3,4]
  %2 = conv2d_backprop_input(%y, %k) {input_shape = [2, 5, 5, 3], strides = [2, 2], padding = same} : f32[2,5,5,3]
  %3 = conv2d_backprop_kernel(%x, %y) {kernel_shape = [3, 3, 3, 4], strides = [2, 2], padding = same} : f32[3,3,3,4]
  output y = %y
  output dx = %2
  output dk = %3
}

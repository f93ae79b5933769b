graph pool {
  %x = input : f32[2,5,6,3]
  %0 = max_pool2d(%x) {window = [3, 3], strides = [2, 2], padding = same} : f32[2,3,3,3]
  %1 = avg_pool2d(%x) {window = [3, 3], strides = [2, 2], padding = same} : f32[2,3,3,3]
  %dy = input : f32[2,3,3,3]
  %2 = max_pool2d_backprop(%x, %dy) {window = [3, 3], strides = [2, 2], padding = same} : f32[2,5,6,3]
  %3 = avg_pool2d_backprop(%dy) {input_shape = [2, 5, 6, 3], window = [3, 3], strides = [2, 2], padding = same} : f32[2,5,6,3]
  %4 = max_pool2d(%x) {window = [2, 2]} : f32[2,2,3,3]
  output max = %0
  output avg = %1
  output dmax = %2
  output davg = %3
  output max2 = %4
}

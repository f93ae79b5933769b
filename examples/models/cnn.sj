# Keras's "simple MNIST convnet" (keras.io/examples/vision/mnist_convnet, dropout left out):
# 28x28x1 -> Conv2D(32, 3x3, relu) -> MaxPooling2D(2) -> Conv2D(64, 3x3, relu) ->
# MaxPooling2D(2) -> Flatten -> Dense(10), batch 128, softmax cross-entropy against integer
# labels. NHWC; kernels in Keras's layout [KH, KW, C, F].
graph cnn {
  %x = input : f32[128,28,28,1]
  %labels = input : i32[128]
  %conv2d_0/kernel = variable {init = glorot_uniform, seed = 1} : f32[3,3,1,32]
  %conv2d_0/bias = variable : f32[32]
  %0 = conv2d(%x, %conv2d_0/kernel) : f32[128,26,26,32]
  %1 = add(%0, %conv2d_0/bias) : f32[128,26,26,32]
  %2 = relu(%1) : f32[128,26,26,32]
  %3 = max_pool2d(%2) {window = [2, 2]} : f32[128,13,13,32]
  %conv2d_1/kernel = variable {init = glorot_uniform, seed = 2} : f32[3,3,32,64]
  %conv2d_1/bias = variable : f32[64]
  %4 = conv2d(%3, %conv2d_1/kernel) : f32[128,11,11,64]
  %5 = add(%4, %conv2d_1/bias) : f32[128,11,11,64]
  %6 = relu(%5) : f32[128,11,11,64]
  %7 = max_pool2d(%6) {window = [2, 2]} : f32[128,5,5,64]
  %8 = reshape(%7) {shape = [128, 1600]} : f32[128,1600]
  %dense_0/kernel = variable {init = glorot_uniform, seed = 1} : f32[1600,10]
  %dense_0/bias = variable : f32[10]
  %9 = matmul(%8, %dense_0/kernel) : f32[128,10]
  %logits = add(%9, %dense_0/bias) : f32[128,10]
  %loss = softmax_cross_entropy(%logits, %labels) : f32[]
  output logits = %logits
  output loss = %loss
}

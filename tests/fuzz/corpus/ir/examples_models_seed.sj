# The seed tutorial's model (TensorFlow's GradientTape example) in stepjit IR:
# Dense(100 -> 10, relu), then Dense(10 -> 1), on a batch of 32; mean squared error against y.
# Kernels use Keras's layout [inputs, units] and initializer (glorot_uniform), biases start at 0.
graph seed {
  %x = input : f32[32,100]
  %y = input : f32[32,1]
  %dense_0/kernel = variable {init = glorot_uniform, seed = 1} : f32[100,10]
  %dense_0/bias = variable : f32[10]
  %dense_1/kernel = variable {init = glorot_uniform, seed = 2} : f32[10,1]
  %dense_1/bias = variable : f32[1]
  %0 = matmul(%x, %dense_0/kernel) : f32[32,10]
  %1 = add(%0, %dense_0/bias) : f32[32,10]
  %2 = relu(%1) : f32[32,10]
  %3 = matmul(%2, %dense_1/kernel) : f32[32,1]
  %pred = add(%3, %dense_1/bias) : f32[32,1]
  %4 = sub(%pred, %y) : f32[32,1]
  %5 = square(%4) : f32[32,1]
  %loss = reduce_mean(%5) {axes = [0, 1]} : f32[]
  output pred = %pred
  output loss = %loss
}

# The seed tutorial's model: Dense(100->10, relu), Dense(10->1), MSE.
graph seed {
  %x = input : f32[32,100]
  %y = input : f32[32,1]
  %dense_0/kernel = variable {init = glorot_uniform, seed = 1} : f32[100,10]
  %dense_0/bias = variable : f32[10]
  %0 = matmul(%x, %dense_0/kernel) : f32[32,10]
  %1 = add(%0, %dense_0/bias) : f32[32,10]
  %2 = relu(%1) : f32[32,10]
  %loss = reduce_mean(%2) {axes = [0, 1]} : f32[]
  output pred = %2
  output loss = %loss
}

# A wide regression layer pair: 1024 -> 4096 relu -> 1024, batch 256, mean squared error against
# y (the shape of a transformer's feed-forward block; GEMM-bound, for the performance issue).
graph wide {
  %x = input : f32[256,1024]
  %y = input : f32[256,1024]
  %dense_0/kernel = variable {init = glorot_uniform, seed = 1} : f32[1024,4096]
  %dense_0/bias = variable : f32[4096]
  %dense_1/kernel = variable {init = glorot_uniform, seed = 2} : f32[4096,1024]
  %dense_1/bias = variable : f32[1024]
  %0 = matmul(%x, %dense_0/kernel) : f32[256,4096]
  %1 = add(%0, %dense_0/bias) : f32[256,4096]
  %2 = relu(%1) : f32[256,4096]
  %3 = matmul(%2, %dense_1/kernel) : f32[256,1024]
  %pred = add(%3, %dense_1/bias) : f32[256,1024]
  %4 = sub(%pred, %y) : f32[256,1024]
  %5 = square(%4) : f32[256,1024]
  %loss = reduce_mean(%5) {axes = [0, 1]} : f32[]
  output pred = %pred
  output loss = %loss
}

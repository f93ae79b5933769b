# A classifier: 784 -> 512 relu -> 512 relu -> 10, batch 128, softmax cross-entropy against
# integer labels (the shape of MNIST).
graph mlp {
  %x = input : f32[128,784]
  %labels = input : i32[128]
  %dense_0/kernel = variable {init = glorot_uniform, seed = 1} : f32[784,512]
  %dense_0/bias = variable : f32[512]
  %dense_1/kernel = variable {init = glorot_uniform, seed = 2} : f32[512,512]
  %dense_1/bias = variable : f32[512]
  %dense_2/kernel = variable {init = glorot_uniform, seed = 3} : f32[512,10]
  %dense_2/bias = variable : f32[10]
  %0 = matmul(%x, %dense_0/kernel) : f32[128,512]
  %1 = add(%0, %dense_0/bias) : f32[128,512]
  %2 = relu(%1) : f32[128,512]
  %3 = matmul(%2, %dense_1/kernel) : f32[128,512]
  %4 = add(%3, %dense_1/bias) : f32[128,512]
  %5 = relu(%4) : f32[128,512]
  %6 = matmul(%5, %dense_2/kernel) : f32[128,10]
  %logits = add(%6, %dense_2/bias) : f32[128,10]
  %loss = softmax_cross_entropy(%logits, %labels) : f32[]
  output logits = %logits
  output loss = %loss
}

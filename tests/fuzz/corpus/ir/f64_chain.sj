graph f64 {
  %x = input : f64[3,2]
  %w = variable {init = glorot_uniform, seed = 5} : f64[2,2]
  %h = matmul(%x, %w) : f64[3,2]
  %t = tanh(%h) : f64[3,2]
  %l = reduce_mean(%t) {axes = [0, 1]} : f64[]
  %c = cast(%l) {to = f32} : f32[]
  output l = %c
}

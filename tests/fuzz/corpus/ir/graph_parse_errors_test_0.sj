# header comment
graph fuzz {
  %x = input : f32[2,3]   # trailing comment
  %labels = input : i32[2]
  %w/k.0 = variable {init = uniform, seed = 7, low = -0.5, high = 2} : f32[3,3]
  %c = constant {value = [1.5, -2.0, nan, inf, -inf, 1e-07]} : f32[2,3]
  %b = constant {value = [true, false]} : bool[2,1]
  %i = constant {value = -9223372036854775808} : i64[]
  %0 = matmul(%x, %w/k.0) {transpose_b = true} : f32[2,3]
  %1 = select(%b, %0, %c) : f32[2,3]
  %17 = reduce_sum(%1) {axes = [0, -1], keepdims = true} : f32[1,1]
  %2 = cast(%labels) {to = i64} : i64[2]
  %3 = softmax_cross_entropy(%1, %labels) : f32[]
  %4 = assign(%w/k.0, %w/k.0) : f32[3,3]
  output loss = %3
  output s = %17
}

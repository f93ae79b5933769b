# A graph small enough to check by hand: y = relu(x W + b), plus a counter that a step advances.
#   stepjit eval examples/affine.sj --input x=x.npy
graph affine {
  %x = input : f32[2,3]
  %w = variable {init = constant, value = 0.5} : f32[3,2]
  %b = constant {value = [1.0, -2.0]} : f32[2]
  %steps = variable : i64[]
  %0 = matmul(%x, %w) : f32[2,2]
  %1 = add(%0, %b) : f32[2,2]
  %y = relu(%1) : f32[2,2]
  %one = constant {value = 1} : i64[]
  %2 = add(%steps, %one) : i64[]
  %3 = assign(%steps, %2) : i64[]
  output y = %y
  output steps = %3
}

graph g {
  %x = input : f32[2]
  %0 = constant {value = 1.0} : f32[]
  %1 = constant {value = 1.0} : f32[]
  %2 = constant {value = 1.0} : f64[]
  %3 = constant {value = 0.0} : f32[]
  %4 = constant {value = -0.0} : f32[]
  %5 = constant {value = [1.0, 1.0]} : f32[2]
  %a = maximum(%x, %0) : f32[2]
  %b = maximum(%x, %1) : f32[2]
  %c = cast(%2) {to = f32} : f32[]
  %d = maximum(%x, %3) : f32[2]
  %e = maximum(%x, %4) : f32[2]
  %f = maximum(%x, %5) : f32[2]
  output a = %a
  output b = %b
  output c = %c
  output d = %d
  output e = %e
  output f = %f
}

graph g {
  %x = input : f32[2]
  %c = constant {value = 1.0} : f32[]
  %0 = constant {value = 0.0} : f32[]
  %1 = constant {value = -0.0} : f32[]
  %2 = constant {value = 1.0} : f32[2]
  %a = maximum(%x, %c) : f32[2]
  %d = maximum(%x, %0) : f32[2]
  %e = maximum(%x, %1) : f32[2]
  %f = maximum(%x, %2) : f32[2]
  output a = %a
  output b = %a
  output c = %c
  output d = %d
  output e = %e
  output f = %f
}

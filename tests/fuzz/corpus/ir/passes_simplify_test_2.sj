graph g {
  %v = variable : f32[2]
  %0 = constant {value = 1.0} : f32[]
  %1 = mul(%v, %0) : f32[2]
  %2 = constant {value = 1.0} : f32[]
  %3 = add(%1, %2) : f32[2]
  %4 = assign(%v, %3) : f32[2]
}

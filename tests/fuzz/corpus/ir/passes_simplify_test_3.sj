graph g {
  %v = variable : f32[2]
  %0 = constant {value = 1.0} : f32[]
  %1 = add(%v, %0) : f32[2]
  %2 = assign(%v, %1) : f32[2]
}

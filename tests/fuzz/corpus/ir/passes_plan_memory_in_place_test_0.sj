graph g {
  %w = variable {init = ones} : f32[4]
  %z = variable : f32[4]
  %two = constant {value = 2.0} : f32[]
  %new = mul(%w, %two) : f32[4]
  %other = add(%w, %new) : f32[4]
  %a = assign(%w, %new) : f32[4]
  %b = assign(%z, %other) : f32[4]
}

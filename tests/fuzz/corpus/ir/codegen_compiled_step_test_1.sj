graph s {
  %x = input : f32[4]
  %w = variable {init = ones} : f32[4]
  %y = add(%x, %w) : f32[4]
  %two = constant {value = 2.0} : f32[]
  %new = mul(%w, %two) : f32[4]
  %a = assign(%w, %new) : f32[4]
  output y = %y
}

graph assign {
  %x = input : f32[3]
  %w = variable {init = ones} : f32[3]
  %v = variable {init = constant, value = 2.0} : f32[3]
  %s = add(%w, %x) : f32[3]
  %a = assign(%w, %v) : f32[3]
  %b = assign(%v, %s) : f32[3]
  output s = %s
}

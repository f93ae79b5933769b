graph maximum {
  %x = input : f32[2,3]
  %b = input : f32[3]
  %r = maximum(%x, %b) : f32[2,3]
  output r = %r
}

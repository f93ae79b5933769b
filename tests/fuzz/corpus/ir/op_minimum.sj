graph minimum {
  %x = input : f32[2,3]
  %b = input : f32[3]
  %r = minimum(%x, %b) : f32[2,3]
  output r = %r
}

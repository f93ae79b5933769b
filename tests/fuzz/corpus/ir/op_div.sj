graph div {
  %x = input : f32[2,3]
  %b = input : f32[3]
  %r = div(%x, %b) : f32[2,3]
  output r = %r
}

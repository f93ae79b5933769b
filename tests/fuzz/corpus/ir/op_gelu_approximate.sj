graph gelu {
  %x = input : f32[2,3]
  %y = input : f32[2,3]
  %r = gelu(%x) {approximate = true} : f32[2,3]
  output r = %r
}

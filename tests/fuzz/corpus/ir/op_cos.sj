graph cos {
  %x = input : f32[2,3]
  %y = input : f32[2,3]
  %r = cos(%x) : f32[2,3]
  output r = %r
}

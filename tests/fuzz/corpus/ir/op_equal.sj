graph equal {
  %x = input : f32[2,3]
  %y = input : f32[2,3]
  %c = equal(%x, %y) : bool[2,3]
  %r = select(%c, %x, %y) : f32[2,3]
  output c = %c
  output r = %r
}

graph rsqrt {
  %x = input : f32[2,3]
  %y = input : f32[2,3]
  %r = rsqrt(%x) : f32[2,3]
  output r = %r
}

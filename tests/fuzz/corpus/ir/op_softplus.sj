graph softplus {
  %x = input : f32[2,3]
  %y = input : f32[2,3]
  %r = softplus(%x) : f32[2,3]
  output r = %r
}

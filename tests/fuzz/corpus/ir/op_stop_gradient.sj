graph stop_gradient {
  %x = input : f32[2,3]
  %y = input : f32[2,3]
  %r = stop_gradient(%x) : f32[2,3]
  output r = %r
}

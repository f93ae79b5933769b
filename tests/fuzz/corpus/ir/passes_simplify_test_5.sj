graph g {
  %x = input : f32[3]
  %e = exp(%x) : f32[3]
  %s = add(%e, %e) : f32[3]
  output s = %s
  output e = %e
  output x1 = %x
}

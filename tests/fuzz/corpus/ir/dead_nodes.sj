graph dead {
  %x = input : f32[4]
  %t = input : f32[3,2]
  %i = input : i32[2]
  %d = gather(%t, %i) : f32[2,2]
  %e = exp(%x) : f32[4]
  %y = neg(%x) : f32[4]
  output y = %y
}

graph gather0 {
  %t = variable : f32[0,4]
  %i = input : i32[2]
  %g = gather(%t, %i) : f32[2,4]
  output g = %g
}

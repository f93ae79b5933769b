graph gather {
  %t = variable {init = uniform, seed = 2} : f32[4,3]
  %i = input : i32[2]
  %g = gather(%t, %i) : f32[2,3]
  output g = %g
}

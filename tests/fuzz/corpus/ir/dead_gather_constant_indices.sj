graph dead_gather {
  %x = input : f32[4]
  %t = variable {init = ones} : f32[3,2]
  %i = constant {value = [2, 0]} : i32[2]
  %d = gather(%t, %i) : f32[2,2]
  %y = neg(%x) : f32[4]
  output y = %y
  output d = %d
}

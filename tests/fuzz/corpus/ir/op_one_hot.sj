graph one_hot {
  %i = input : i64[5]
  %h = one_hot(%i) {depth = 4} : f32[5,4]
  %d = one_hot(%i) {depth = 3, dtype = f64} : f64[5,3]
  output h = %h
  output d = %d
}

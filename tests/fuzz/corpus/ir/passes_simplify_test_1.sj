graph g {
  %unused_in = input : f32[3]
  %x = input : f32[3]
  %unused_var = variable {init = uniform, seed = 4, low = -1.0, high = 2.0} : f32[2]
  %w = variable {init = ones} : f32[3]
  %counter = variable : i64[]
  %0 = add(%w, %x) : f32[3]
  %1 = assign(%w, %0) : f32[3]
  %2 = constant {value = 1} : i64[]
  %3 = add(%counter, %2) : i64[]
  %4 = assign(%counter, %3) : i64[]
  %y = neg(%x) : f32[3]
  output y = %y
}

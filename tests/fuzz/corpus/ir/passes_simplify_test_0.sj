graph g {
  %unused_in = input : f32[3]
  %x = input : f32[3]
  %unused_var = variable {init = uniform, seed = 4, low = -1, high = 2} : f32[2]
  %w = variable {init = ones} : f32[3]
  %counter = variable : i64[]
  %0 = exp(%x) : f32[3]
  %dead = mul(%0, %0) : f32[3]
  %1 = add(%w, %x) : f32[3]
  %2 = assign(%w, %1) : f32[3]
  %3 = constant {value = 1} : i64[]
  %4 = add(%counter, %3) : i64[]
  %5 = assign(%counter, %4) : i64[]
  %y = neg(%x) : f32[3]
  output y = %y
}

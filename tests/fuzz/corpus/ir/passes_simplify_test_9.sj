graph g {
  %table = constant {value = [1.0, 2.0, 3.0]} : f32[3]
  %bad = constant {value = [0, 5]} : i32[2]
  %good = constant {value = [2, 0]} : i32[2]
  %0 = gather(%table, %bad) : f32[2]
  %1 = gather(%table, %good) : f32[2]
  output bad = %0
  output good = %1
}

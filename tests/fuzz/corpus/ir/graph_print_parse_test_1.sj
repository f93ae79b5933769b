graph consts {
  %0 = constant {value = [0.1, 0.33333334, -0.0, 1e-45, 3.4028235e+38]} : f32[5]
  %1 = constant {value = [0.1, 1e-07, -2.0, 1e+300]} : f64[4]
  %2 = constant {value = [-2147483648, 2147483647, 0]} : i32[3]
  %3 = constant {value = [-9223372036854775808, 42]} : i64[2,1]
  %4 = constant {value = [true, false, true]} : bool[3]
}

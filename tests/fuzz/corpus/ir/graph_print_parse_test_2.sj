graph reals {
  %a = variable {init = normal, seed = 9, mean = 1e-07, stddev = 0.5} : f32[2]
  %b = variable {init = uniform, low = -1.0, high = 0.1} : f32[2]
  %c = variable {init = constant, value = 1e+21} : f64[]
}

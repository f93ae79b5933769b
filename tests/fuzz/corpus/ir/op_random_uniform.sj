graph random {
  %c = variable : i64[]
  %r = random_uniform(%c) {shape = [2, 3], seed = 7} : f32[2,3]
  %one = constant {value = 1} : i64[]
  %n = add(%c, %one) : i64[]
  %a = assign(%c, %n) : i64[]
  output r = %r
}

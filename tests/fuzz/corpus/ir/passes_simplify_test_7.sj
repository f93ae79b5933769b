graph g {
  %x = input : f32[3]
  %ones = constant {value = 1.0} : f32[2,3]
  %zeros = constant {value = -0.0} : f32[2,3]
  %a = mul(%x, %ones) : f32[2,3]
  %b = add(%zeros, %x) : f32[2,3]
  %twos = constant {value = [1.0, 2.0, 1.0]} : f32[3]
  %c = mul(%x, %twos) : f32[3]
  output a = %a
  output b = %b
  output c = %c
}

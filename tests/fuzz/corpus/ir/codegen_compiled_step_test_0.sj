graph d {
  %x = input : f32[2]
  %half = constant {value = 0.5} : f32[]
  %y = mul(%x, %half) : f32[2]
  output y = %y
}

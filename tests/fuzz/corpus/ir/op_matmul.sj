graph matmul {
  %a = input : f32[2,4,3]
  %b = input : f32[3,5]
  %c = matmul(%a, %b) : f32[2,4,5]
  %d = matmul(%b, %b) {transpose_a = true} : f32[5,5]
  output c = %c
  output d = %d
}

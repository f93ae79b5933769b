graph g {
  %a = input : f32[2,4,3]
  %b = input : f32[2,4,5]
  %c = input : f32[4,2,3]
  %0 = transpose(%a) {perm = [0, 2, 1]} : f32[2,3,4]
  %1 = matmul(%0, %b) : f32[2,3,5]
  %2 = transpose(%c) {perm = [1, 2, 0]} : f32[2,3,4]
  %3 = matmul(%2, %b) : f32[2,3,5]
  output p = %1
  output q = %3
}

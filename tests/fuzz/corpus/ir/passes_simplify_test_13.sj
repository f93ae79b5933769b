graph g {
  %x = input : f32[2,3,4]
  %0 = transpose(%x) {perm = [1, 2, 0]} : f32[3,4,2]
  %1 = transpose(%0) {perm = [2, 0, 1]} : f32[2,3,4]
  %2 = transpose(%0) {perm = [1, 0, 2]} : f32[4,3,2]
  %3 = reshape(%x) {shape = [6, 4]} : f32[6,4]
  %4 = reshape(%3) {shape = [24]} : f32[24]
  %5 = reshape(%4) {shape = [2, 3, 4]} : f32[2,3,4]
  %6 = add(%1, %5) : f32[2,3,4]
  output a = %6
  output b = %2
  output c = %4
}

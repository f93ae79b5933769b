graph layout {
  %x = input : f32[2,3]
  %t = transpose(%x) {perm = [1, 0]} : f32[3,2]
  %r = reshape(%t) {shape = [6]} : f32[6]
  %b = broadcast_to(%r) {shape = [2, 6]} : f32[2,6]
  %c = concat(%b, %b) {axis = 0} : f32[4,6]
  %s = slice(%c) {begin = [1, 2], end = [3, 5]} : f32[2,3]
  output s = %s
}

graph pad {
  %x = input : f32[2,3]
  %0 = pad(%x) {pads = [[1, 0], [2, 2]], value = -1.5} : f32[3,7]
  %i = input : i32[4]
  %1 = pad(%i) {pads = [0, 3]} : i32[7]
  output p = %0
  output q = %1
}

graph g {
  %x = input : f32[2,3]
  %0 = constant {value = 1.0} : f32[1,1]
  %1 = broadcast_to(%0) {shape = [2, 3]} : f32[2,3]
  %2 = mul(%1, %x) : f32[2,3]
  %3 = mul(%2, %x) : f32[2,3]
  %4 = mul(%x, %x) : f32[2,3]
  %5 = sub(%3, %4) : f32[2,3]
  output d = %5
}

graph g {
  %x = input : f32[3]
  %0 = exp(%x) : f32[3]
  %e = exp(%x) : f32[3]
  %one = constant {value = 1.0} : f32[]
  %scaled = mul(%e, %one) : f32[3]
  %same_x = mul(%x, %one) : f32[3]
  %r = reshape(%scaled) {shape = [3]} : f32[3]
  %s = add(%0, %r) : f32[3]
  output s = %s
  output e = %r
  output x1 = %same_x
}

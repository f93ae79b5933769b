graph cast {
  %x = input : f32[2,3]
  %s = constant {value = 4.0} : f32[]
  %m = mul(%x, %s) : f32[2,3]
  %i = cast(%m) {to = i32} : i32[2,3]
  %j = add(%i, %i) : i32[2,3]
  %b = cast(%x) {to = bool} : bool[2,3]
  %d = cast(%j) {to = f64} : f64[2,3]
  output j = %j
  output b = %b
  output d = %d
}

graph g {
  %x = input : f32[4]
  %i = input : i32[4]
  %pz = constant {value = 0.0} : f32[]
  %nz = constant {value = -0.0} : f32[]
  %iz = constant {value = 0} : i32[]
  %a = add(%x, %pz) : f32[4]
  %b = add(%nz, %x) : f32[4]
  %c = sub(%x, %pz) : f32[4]
  %d = sub(%x, %nz) : f32[4]
  %e = sub(%pz, %x) : f32[4]
  %f = add(%iz, %i) : i32[4]
  %g = sub(%i, %iz) : i32[4]
  output a = %a
  output b = %b
  output c = %c
  output d = %d
  output e = %e
  output f = %f
  output g = %g
}

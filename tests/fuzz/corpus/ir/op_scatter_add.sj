graph scatter {
  %u = input : f32[3,2]
  %i = input : i32[3]
  %s = scatter_add(%u, %i) {rows = 4} : f32[4,2]
  output s = %s
}

graph g {
  %w = variable : f32[2]
  %v = variable : f32[2]
  %0 = assign(%w, %v) : f32[2]
  %1 = assign(%v, %w) : f32[2]
}

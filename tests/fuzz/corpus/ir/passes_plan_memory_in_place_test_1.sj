graph g {
  %p = variable {init = ones} : f32[4]
  %q = variable : f32[4]
  %a = assign(%p, %q) : f32[4]
  %b = assign(%q, %p) : f32[4]
}

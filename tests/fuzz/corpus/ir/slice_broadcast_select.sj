graph sbs {
  %x = input : f32[3,4]
  %s = slice(%x) {begin = [1, 0], end = [3, 2]} : f32[2,2]
  %b = broadcast_to(%s) {shape = [2, 2, 2]} : f32[2,2,2]
  %z = constant {value = 0.0} : f32[]
  %c = greater(%b, %z) : bool[2,2,2]
  %r = select(%c, %b, %z) : f32[2,2,2]
  %i = cast(%r) {to = i64} : i64[2,2,2]
  %t = reduce_sum(%i) {axes = [0, 2]} : i64[2]
  output r = %r
  output t = %t
}

graph reduce_int {
  %x = input : i64[4,3]
  %r = reduce_sum(%x) {axes = [0]} : i64[3]
  %m = reduce_max(%x) {axes = [0, 1]} : i64[]
  output r = %r
  output m = %m
}

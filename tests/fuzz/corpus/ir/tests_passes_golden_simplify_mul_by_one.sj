# mul_by_one: x * 1 and 1 * x are x, where every element of the constant is 1 and the product
# has x's type: a 1 that broadcasts x to a bigger shape is not an identity. Exact for every x.
# RUN: stepjit dump %s --stage=simplified
graph mul_by_one {
  %x = input : f32[2,3]
  %v = input : f32[3]
  %n = input : i32[3]
  %one = constant {value = 1.0} : f32[]
  %ones = constant {value = 1.0} : f32[2,3]
  %row = constant {value = 1.0} : f32[1,3]
  %a = mul(%x, %one) : f32[2,3]
  %b = mul(%ones, %a) : f32[2,3]
  %c = mul(%row, %b) : f32[2,3]
  %y = exp(%c) : f32[2,3]
  %i1 = constant {value = 1} : i32[]
  %k = mul(%n, %i1) : i32[3]
  %wide = mul(%v, %ones) : f32[2,3]
  %halves = constant {value = [1.0, 0.5, 1.0]} : f32[3]
  %h = mul(%v, %halves) : f32[3]
  output y = %y
  output k = %k
  output wide = %wide
  output h = %h
}
# CHECK:      graph mul_by_one {
# CHECK-NOT:    %one =
# CHECK-NOT:    %row =
# x * 1, ones * x and a row of ones times x: all x.
# CHECK:        %y = exp(%x) : f32[2,3]
# The ones would broadcast %v from [3] to [2,3]: kept. Not every element is 1: kept.
# CHECK-NEXT:   %wide = mul(%v, %ones) : f32[2,3]
# CHECK-NEXT:   %halves = constant {value = [1.0, 0.5, 1.0]} : f32[3]
# CHECK-NEXT:   %h = mul(%v, %halves) : f32[3]
# CHECK-NEXT:   output y = %y
# CHECK-NEXT:   output k = %n
# CHECK:      # simplify: mul_by_one removed 4

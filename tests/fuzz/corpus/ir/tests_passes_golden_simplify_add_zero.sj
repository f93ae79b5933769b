# add_zero: x + 0, 0 + x and x - 0 are x, where the result has x's type. For integers every form
# goes. For floats IEEE gives -0 + +0 = +0, so x + 0.0 is not x when x = -0.0; simplify never
# changes a bit, so only the exact forms go: x + (-0.0), (-0.0) + x and x - 0.0. (XLA also
# removes x + 0.0 and accepts the sign change; we keep it.)
# RUN: stepjit dump %s --stage=simplified
graph add_zero {
  %x = input : f32[3]
  %i = input : i32[3]
  %zero = constant {value = 0.0} : f32[]
  %minus_zero = constant {value = -0.0} : f32[]
  %izero = constant {value = 0} : i32[]
  %a = add(%x, %minus_zero) : f32[3]
  %b = add(%minus_zero, %a) : f32[3]
  %c = sub(%b, %zero) : f32[3]
  %y = exp(%c) : f32[3]
  %kept_plus = add(%x, %zero) : f32[3]
  %kept_minus = sub(%x, %minus_zero) : f32[3]
  %kept_neg = sub(%zero, %x) : f32[3]
  %j = add(%izero, %i) : i32[3]
  %k = sub(%j, %izero) : i32[3]
  %m = add(%k, %izero) : i32[3]
  %zeros = constant {value = -0.0} : f32[2,3]
  %kept_wide = add(%x, %zeros) : f32[2,3]
  output y = %y
  output kept_plus = %kept_plus
  output kept_minus = %kept_minus
  output kept_neg = %kept_neg
  output m = %m
  output kept_wide = %kept_wide
}
# CHECK:      graph add_zero {
# The exact forms are gone (%a, %b, %c are %x; %j, %k, %m are %i):
# CHECK-NOT:    %a =
# CHECK-NOT:    %c =
# CHECK-NOT:    %izero =
# CHECK:        %y = exp(%x) : f32[3]
# x + 0.0 and x - (-0.0) turn -0.0 into +0.0; 0 - x is -x; the zeros would broadcast %x.
# CHECK-NEXT:   %kept_plus = add(%x, %zero) : f32[3]
# CHECK-NEXT:   %kept_minus = sub(%x, %minus_zero) : f32[3]
# CHECK-NEXT:   %kept_neg = sub(%zero, %x) : f32[3]
# CHECK-NEXT:   %zeros = constant {value = -0.0} : f32[2,3]
# CHECK-NEXT:   %kept_wide = add(%x, %zeros) : f32[2,3]
# CHECK-NEXT:   output y = %y
# CHECK:        output m = %i
# CHECK:      # simplify: add_zero removed 6

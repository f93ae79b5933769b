# cse: nodes with the same op, operands and attributes become one; constants are one node per
# type and bit pattern (0.0 and -0.0 stay apart). Inputs, variables and assigns are never merged.
# As in an Adam step: the constant 1.0 is written once per use, and pow(beta, t) and 1 - beta^t
# once per variable; after cse each is computed once.
# RUN: stepjit dump %s --stage=simplified
graph cse {
  %beta = variable {init = constant, value = 0.9} : f32[]
  %step = variable : f32[]
  %a = variable : f32[3]
  %b = variable : f32[2]
  %0 = constant {value = 1.0} : f32[]
  %t = add(%step, %0) : f32[]
  %1 = pow(%beta, %t) : f32[]
  %2 = constant {value = 1.0} : f32[]
  %3 = sub(%2, %1) : f32[]
  %4 = div(%a, %3) : f32[3]
  %5 = assign(%a, %4) : f32[3]
  %6 = pow(%beta, %t) : f32[]
  %7 = constant {value = 1.0} : f32[]
  %8 = sub(%7, %6) : f32[]
  %9 = div(%b, %8) : f32[2]
  %10 = assign(%b, %9) : f32[2]
  %11 = assign(%step, %t) : f32[]
  %zero = constant {value = 0.0} : f32[]
  %minus_zero = constant {value = -0.0} : f32[]
  %p = maximum(%t, %zero) : f32[]
  %q = maximum(%t, %minus_zero) : f32[]
  output p = %p
  output q = %q
}
# CHECK:      graph cse {
# CHECK:        [[ONE:%[0-9]+]] = constant {value = 1.0} : f32[]
# CHECK-NEXT:   %t = add(%step, [[ONE]]) : f32[]
# CHECK-NEXT:   [[POW:%[0-9]+]] = pow(%beta, %t) : f32[]
# CHECK-NEXT:   [[DEN:%[0-9]+]] = sub([[ONE]], [[POW]]) : f32[]
# CHECK-NEXT:   [[A:%[0-9]+]] = div(%a, [[DEN]]) : f32[3]
# CHECK-NEXT:   {{%[0-9]+}} = assign(%a, [[A]]) : f32[3]
# CHECK-NOT:    pow(
# CHECK-NOT:    constant {value = 1.0}
# CHECK:        [[B:%[0-9]+]] = div(%b, [[DEN]]) : f32[2]
# CHECK-NEXT:   {{%[0-9]+}} = assign(%b, [[B]]) : f32[2]
# CHECK-NEXT:   {{%[0-9]+}} = assign(%step, %t) : f32[]
# +0.0 and -0.0 are different constants:
# CHECK-NEXT:   %zero = constant {value = 0.0} : f32[]
# CHECK-NEXT:   %minus_zero = constant {value = -0.0} : f32[]
# CHECK-NEXT:   %p = maximum(%t, %zero) : f32[]
# CHECK-NEXT:   %q = maximum(%t, %minus_zero) : f32[]
# CHECK:      # simplify: cse removed 4

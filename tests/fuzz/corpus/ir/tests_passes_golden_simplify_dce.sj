# dce: values that reach neither an output nor an assign are removed. Inputs and variables stay
# even when nothing uses them (feeds and checkpoints refer to them by name), in their order and
# with their initializers, and every assign stays: it is the step's effect.
# RUN: stepjit dump %s --stage=simplified
graph dce {
  %x = input : f32[4]
  %unused = input : f32[2]
  %w = variable {init = ones} : f32[4]
  %idle = variable {init = constant, value = 3} : f32[]
  %0 = exp(%x) : f32[4]
  %1 = log(%0) : f32[4]
  %dead = mul(%1, %1) : f32[4]
  %2 = add(%w, %x) : f32[4]
  %3 = assign(%w, %2) : f32[4]
  %y = tanh(%x) : f32[4]
  output y = %y
}
# CHECK:      graph dce {
# CHECK-NEXT:   %x = input : f32[4]
# CHECK-NEXT:   %unused = input : f32[2]
# CHECK-NEXT:   %w = variable {init = ones} : f32[4]
# CHECK-NEXT:   %idle = variable {init = constant, value = 3.0} : f32[]
# The dead chain exp -> log -> mul is gone; the update of %w stays though nothing reads it.
# CHECK-NOT:    exp(
# CHECK-NOT:    log(
# CHECK-NOT:    %dead
# CHECK:        [[S:%[0-9]+]] = add(%w, %x) : f32[4]
# CHECK-NEXT:   {{%[0-9]+}} = assign(%w, [[S]]) : f32[4]
# CHECK-NEXT:   %y = tanh(%x) : f32[4]
# CHECK-NEXT:   output y = %y
# CHECK-NEXT: }
# CHECK:      # simplify: dce removed 3

# fold_constants: a node whose operands are all constants becomes a constant, computed by the
# op's interpreter kernel (bit for bit what a run computes), if the result has at most 1024
# elements. Not folded: bigger results (a big splat stays an op), a broadcast_to that grows its
# operand (a materialized splat is no simpler), and a kernel that fails (an index out of range
# stays the run-time error it is).
# RUN: stepjit dump %s --stage=simplified
graph fold_constants {
  %x = input : f32[32,1]
  %0 = constant {value = 1.0} : f32[]
  %1 = reshape(%0) {shape = [1, 1]} : f32[1,1]
  %2 = constant {value = 32.0} : f32[]
  %3 = div(%1, %2) : f32[1,1]
  %g = mul(%3, %x) : f32[32,1]
  %big = constant {value = 2.0} : f32[64,64]
  %root = sqrt(%big) : f32[64,64]
  %total = reduce_sum(%big) {axes = [0, 1]} : f32[]
  %spread = broadcast_to(%0) {shape = [4]} : f32[4]
  %table = constant {value = [1.0, 2.0, 3.0]} : f32[3]
  %bad = constant {value = [0, 7]} : i32[2]
  %picked = gather(%table, %bad) : f32[2]
  output g = %g
  output root = %root
  output total = %total
  output spread = %spread
  output picked = %picked
}
# CHECK:      graph fold_constants {
# 1 reshaped to [1,1] and divided by 32: one constant, computed by the kernels.
# CHECK-NOT:    reshape(
# CHECK-NOT:    div(
# CHECK:        [[G:%[0-9]+]] = constant {value = 0.03125} : f32[1,1]
# CHECK-NEXT:   %g = mul([[G]], %x) : f32[32,1]
# 4096 elements: too big to fold; their sum is one number.
# CHECK-NEXT:   %big = constant {value = 2.0} : f32[64,64]
# CHECK-NEXT:   %root = sqrt(%big) : f32[64,64]
# CHECK-NEXT:   %total = constant {value = 8192.0} : f32[]
# CHECK-NEXT:   %spread = broadcast_to({{%[0-9]+}}) {shape = [4]} : f32[4]
# Index 7 is out of range: folding would fail, so the gather fails when the step runs.
# CHECK-NEXT:   %table = constant {value = [1.0, 2.0, 3.0]} : f32[3]
# CHECK-NEXT:   %bad = constant {value = [0, 7]} : i32[2]
# CHECK-NEXT:   %picked = gather(%table, %bad) : f32[2]
# CHECK:      # simplify: fold_constants removed 3

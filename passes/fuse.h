// Fusion: which values are computed inside their user's loop instead of being stored.
#pragma once

#include "graph/graph.h"

#include <string>
#include <vector>

namespace sj {

/// `inlined[v]`: value v is never stored; its single user computes it element by element in
/// its own loop. The other (materialized) values each get a buffer and a loop nest (or a whole-
/// buffer routine); a chain of inlined values ending in one materialized value is one group.
struct FusionPlan {
  /// Graph::live_values: dead code (what no output or assign needs) gets no loop, no buffer and
  /// no code, so it cannot fail or cost anything, as in the interpreter.
  std::vector<bool> live;
  std::vector<bool> inlined;
  /// The materialized value whose loop computes v (v itself when v is materialized).
  std::vector<ValueId> root;
  /// Materialized elementwise values whose every read is at their own position (or of a single
  /// element) run as one flat loop.
  std::vector<bool> flat;
  /// Loop groups (multi-output fusion): consecutive flat elementwise values of one shape share
  /// one loop, and a member reads an earlier member's element from a register, not memory.
  /// `loop[v]` is the first member of v's group (v itself when alone); `loop_end[v]` the last.
  std::vector<ValueId> loop;
  std::vector<ValueId> loop_end;
  /// GEMM epilogues: `epilogue[c]` is the first member of the loop (group) that runs inside the
  /// f32 matrix product c, block by block as the GEMM finishes them (bias, activation, relu
  /// mask, an optimizer update), and `epilogue_of[first]` is c; both are v itself otherwise.
  /// Such a loop computes at c's position: its members are live from c on, and c's operands
  /// until the loop's end.
  std::vector<ValueId> epilogue;
  std::vector<ValueId> epilogue_of;
};

/// Inlines a value when it has an element rule (elementwise math or an index map), exactly one
/// use, is not an output, and its user either has an element rule over the same shape or is a
/// reduction (which reads each element once): so an intermediate used once never reaches
/// memory, and nothing is computed twice. A chain of inlined values is at most
/// kMaxInlineDepth deep (the next value is stored): the lowering computes an inlined value by
/// recursing into its operands, so a 10^6-op chain compiles with a bounded stack.
FusionPlan fuse(const Graph& graph);
inline constexpr int kMaxInlineDepth = 64;
inline constexpr ValueId kMaxLoopSpan = 1024;

/// Then consecutive flat elementwise values of one shape share one loop (an Adam update of one
/// variable: its moments and its new value in one pass), within kMaxLoopSpan nodes.
///
/// The groups, one line each: `%7 <- mul %5, sub %6` (root, then the inlined values), then the
/// loops with more than one stored value.
std::string print_fusion(const Graph& graph, const FusionPlan& plan);

} // namespace sj

// Lowering a graph to one LLVM function: the whole step, forward to update, with no per-op
// dispatch at run time.
#pragma once

#include "graph/graph.h"
#include "passes/fuse.h"
#include "passes/plan_memory.h"

#include <llvm/IR/LLVMContext.h>
#include <llvm/IR/Module.h>
#include <memory>

namespace sj {

/// The entry function's name and signature:
///
///   void sj_step(void* const* inputs, void* const* variables, void* const* outputs,
///                char* arena, int64_t* status, void* pool);
///
/// `inputs` in the order of graph.nodes_of(Op::input), `variables` in the order of
/// graph.nodes_of(Op::variable), `outputs` in the order of graph.outputs(); `arena` holds
/// plan.arena_bytes bytes, 64-byte aligned. `status` (kStatusWords words) has status[0] zero on
/// return unless a run-time error happened: then status[0] is 1 (an op's error, OpDef::explain)
/// or 2 (a NaN or infinity under check_numerics), status[1] the failing node (the first in
/// graph order), status[2] the offending value (for 2: the bits of the value as an f64) and
/// status[3] its position (the first in that node), and no variable was written. status[4] is
/// scratch (outlined loops flag non-finite elements there). Otherwise every variable with an
/// `assign` holds its new value and every output buffer its value. `pool` is the sj::ThreadPool the
/// step's kernels (kernels/gemm.h) run on, or null for the calling thread alone.
inline constexpr const char* kStepFunction = "sj_step";
inline constexpr int kStatusWords = 5;

/// Builds the module of `graph`, stored and fused as `fusion` and `memory` say.
///
/// `check_numerics`: every floating value the step computes is tested for NaN and infinity in
/// the loop that computes it (a reassociable sum of `x - x`, NaN exactly when some x is not
/// finite, which keeps the loop vectorizable), kernels' and whole-buffer rules' results in a
/// pass over their buffer after them, feeds once at the start (variables are checked as their
/// new values are computed). When a node's flag is set, a cold path re-runs its loop scalar to
/// find the first bad value in graph order and its position (status code 2). The memory plan
/// must then write no value in place (plan_memory's `in_place = false`), so a failing step
/// changes no variable.
std::unique_ptr<llvm::Module> lower_to_llvm(const Graph& graph, const FusionPlan& fusion,
                                            const MemoryPlan& memory, llvm::LLVMContext& context,
                                            bool check_numerics = false);

} // namespace sj

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
/// return unless a run-time error happened: then status[0] is 1, status[1] the failing node
/// (the first in graph order), status[2] the offending value and status[3] its position (the
/// first in that node), and no variable was written. Otherwise every variable with an `assign`
/// holds its new value and every output buffer its value. `pool` is the sj::ThreadPool the step's
/// kernels (kernels/gemm.h) run on, or null for the calling thread alone.
inline constexpr const char* kStepFunction = "sj_step";
inline constexpr int kStatusWords = 4;

/// Builds the module of `graph`, stored and fused as `fusion` and `memory` say.
std::unique_ptr<llvm::Module> lower_to_llvm(const Graph& graph, const FusionPlan& fusion,
                                            const MemoryPlan& memory, llvm::LLVMContext& context);

} // namespace sj

// Memory planning: where every materialized value lives during a step.
#pragma once

#include "graph/graph.h"
#include "passes/fuse.h"

#include <string>
#include <vector>

namespace sj {

enum class Storage {
  none,     ///< inlined into its user (passes/fuse.h): never stored
  input,    ///< the caller's feed buffer
  variable, ///< the variable's persistent buffer
  constant, ///< read-only data in the compiled code
  alias,    ///< the buffer of the assigned value (an assign's result is its operand 1); an
            ///< assign of a variable's value gets an arena copy instead (a swap must work)
  arena,    ///< the scratch arena, at `offset`
};

struct Buffer {
  Storage storage = Storage::none;
  int64_t offset = 0; // arena only
  int64_t bytes = 0;
  ValueId first = 0; // the node that writes it
  ValueId last = 0;  // the last node that reads it (graph size: read at the end of the step)
};

struct MemoryPlan {
  std::vector<Buffer> buffers; // per value
  int64_t arena_bytes = 0;
  /// The most bytes live at any one node: no plan can use less arena.
  int64_t lower_bound_bytes = 0;
};

/// Gives every materialized intermediate an arena offset, reusing a buffer once its last
/// reader has run (first fit, 64-byte aligned). Outputs and the values assigned to variables
/// live to the end of the step, when they are copied out.
MemoryPlan plan_memory(const Graph& graph, const FusionPlan& fusion);

/// One line per buffer: value, storage, offset, size, live range; then the arena size.
std::string print_memory(const Graph& graph, const MemoryPlan& plan);

} // namespace sj

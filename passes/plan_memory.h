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
  in_place, ///< the buffer of the variable `target` that this value's assign updates: written
            ///< there directly, so the assign copies nothing at the end of the step
};

struct Buffer {
  Storage storage = Storage::none;
  int64_t offset = 0; // arena only
  int64_t bytes = 0;
  ValueId first = 0;  // the node that writes it
  ValueId last = 0;   // the last node that reads it (graph size: read at the end of the step)
  ValueId target = 0; // in_place only: the variable written
};

struct MemoryPlan {
  std::vector<Buffer> buffers; // per value
  int64_t arena_bytes = 0;
  /// The most bytes live at any one node: no plan can use less arena.
  int64_t lower_bound_bytes = 0;
};

/// Gives every materialized intermediate an arena offset, reusing a buffer once its last
/// reader has run (64-byte aligned; the smaller of a first-use-order and a largest-first greedy
/// placement). Outputs and the values assigned to variables
/// live to the end of the step, when they are copied out.
///
/// A value assigned to a variable is written into the variable itself (`in_place`) when that
/// cannot change what the step computes: its loop is flat (element i is written after its
/// inputs at i are read), every other read of the variable's old value happens before that
/// loop or earlier in the same iteration, the variable is neither an output nor another
/// assign's value, and no op that can fail at run time comes after (the lowering skips the
/// loop once an error is recorded, so a failed step still changes no variable). An optimizer
/// update then costs one pass over its variable and slots, not that plus a copy. `in_place =
/// false` writes nothing in place (check_numerics: a NaN found in an update's own loop must
/// leave its variable unchanged too).
MemoryPlan plan_memory(const Graph& graph, const FusionPlan& fusion, bool in_place = true);

/// One line per buffer: value, storage, offset, size, live range; then the arena size.
std::string print_memory(const Graph& graph, const MemoryPlan& plan);

} // namespace sj

// Resource limits: the work and memory a graph may demand, checked before anything runs.
//
// Shapes are static, so what a step will cost is known from the graph alone: the elements each
// op's loop visits, the multiply-adds of each matrix product, the bytes of its constants. A
// graph over a limit is refused with an sj::Error at the op's line (the user's C++ line or
// text position), naming the op, its types, the figure and the limit to raise; so a five-line
// text cannot hang a process in a 2^40-iteration loop or ask for terabytes. The interpreter and
// compiled steps check the same limits on the same (live) nodes, so they refuse the same graphs.
#pragma once

#include "graph/graph.h"

#include <cstdint>
#include <string>

namespace sj {

struct Limits {
  /// The most elements one op may visit: its result's, or those of the operands it reads (a
  /// reduction over a fused broadcast). 2^36 elements take about a minute in a scalar loop.
  int64_t max_op_elements = int64_t{1} << 36;
  /// The most multiply-adds of one matmul (batch x M x N x K) or convolution (the result's
  /// elements x KH x KW x C/groups): 2^42 take about a minute on a core at 70 GFLOP/s.
  int64_t max_macs = int64_t{1} << 42;
  /// The most bytes of constant data (compiled into the code, or held by the interpreter).
  int64_t max_constant_bytes = int64_t{1} << 30;
  /// The most bytes a step may hold at once: variables, constants and what it computes (the
  /// compiled step's arena; the interpreter's live values). 0: the machine's physical memory.
  int64_t max_memory_bytes = 0;
};

/// What one node costs (OpDef::work): elements visited and multiply-adds.
struct Work {
  int64_t elements = 0;
  int64_t macs = 0;
};

/// The default cost of a node: the larger of its result's element count and the element counts
/// of its operands (each is read once, or broadcast into the result).
Work default_work(const Graph& graph, const Node& node);
/// A node's cost, from its op's table row.
Work work_of(const Graph& graph, const Node& node);

/// The floating-point operations of one evaluation of `node` when its op has no rule of its own
/// (OpDef::flops): none for sources (their type is declared) and index_map ops (they only move
/// data); 2 per multiply-add when work_of counts any (a matmul's 2 M N K, a convolution's
/// 2 x output x KH KW C/groups); else one per element visited (elementwise ops, and reductions:
/// one per input element).
int64_t default_flops(const Graph& graph, const Node& node);
/// OpDef::flops of ops that only copy data without being index_map ops (concat, assign,
/// stop_gradient): 0.
int64_t no_flops(const Graph& graph, const Node& node);
/// A node's floating-point operations per evaluation, from its op's table row.
int64_t flops_of(const Graph& graph, const Node& node);

/// Throws sj::Error at the first live node (Graph::live_values) whose work exceeds `limits`, or
/// when the live constants together exceed max_constant_bytes. Memory is checked by each engine
/// against its own plan (check_memory).
void check_work(const Graph& graph, const Limits& limits);

/// Throws sj::Error when a step needing `bytes` (`what` says of what) exceeds memory_limit(),
/// located at `largest`, the value that takes the most of it.
void check_memory(const Graph& graph, const Limits& limits, int64_t bytes, const std::string& what,
                  ValueId largest);

/// max_memory_bytes, or the machine's physical memory when it is 0.
int64_t memory_limit(const Limits& limits);

} // namespace sj

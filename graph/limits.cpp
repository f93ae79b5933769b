#include "graph/limits.h"

#include <algorithm>
#include <fmt/format.h>
#include <limits>
#include <unistd.h>

namespace sj {

namespace {

std::string bytes_str(int64_t bytes) {
  if (bytes >= int64_t{1} << 30) return fmt::format("{:.1f} GiB", double(bytes) / (1 << 30));
  if (bytes >= int64_t{1} << 20) return fmt::format("{:.1f} MiB", double(bytes) / (1 << 20));
  return fmt::format("{} bytes", bytes);
}

std::string count_str(int64_t n) {
  // 2^k when exact, else the number and its order of magnitude in powers of two.
  int log2 = 63 - __builtin_clzll(uint64_t(n | 1));
  if (n > 0 && (n & (n - 1)) == 0) return fmt::format("2^{}", log2);
  return fmt::format("{} (about 2^{})", n, log2);
}

[[noreturn]] void refuse(const Graph& graph, ValueId v, const std::string& what) {
  const Node& n = graph.node(v);
  if (n.operands.empty())
    throw Error(n.loc, fmt::format("{} : {}: {}", node_label(n), n.type.str(), what));
  std::vector<TensorType> types;
  for (ValueId o : n.operands)
    types.push_back(graph.type(o));
  throw Error(n.loc,
              fmt::format("{} -> {}: {}", op_signature(n.def().name, types), n.type.str(), what));
}

} // namespace

Work default_work(const Graph& graph, const Node& node) {
  int64_t elements = node.type.num_elements();
  for (ValueId o : node.operands)
    elements = std::max(elements, graph.type(o).num_elements());
  return {elements, 0};
}

Work work_of(const Graph& graph, const Node& node) {
  const OpDef& def = node.def();
  return def.work ? def.work(graph, node) : default_work(graph, node);
}

int64_t default_flops(const Graph& graph, const Node& node) {
  const OpDef& def = node.def();
  if (def.declares_type || def.fusion == Fusion::index_map) return 0;
  Work w = work_of(graph, node);
  return w.macs > 0 ? saturating_mul(2, w.macs) : w.elements;
}

int64_t no_flops(const Graph&, const Node&) { return 0; }

int64_t flops_of(const Graph& graph, const Node& node) {
  const OpDef& def = node.def();
  return def.flops ? def.flops(graph, node) : default_flops(graph, node);
}

void check_work(const Graph& graph, const Limits& limits) {
  std::vector<bool> live = graph.live_values();
  int64_t constant_bytes = 0;
  for (ValueId v = 0; v < graph.size(); ++v) {
    if (!live[v]) continue;
    const Node& n = graph.node(v);
    // Sources run no loop: their cost is memory (check_memory).
    Work w = n.def().declares_type ? Work{} : work_of(graph, n);
    if (w.elements > limits.max_op_elements)
      refuse(graph, v,
             fmt::format("visits {} elements, more than the limit of {} "
                         "(Limits::max_op_elements)",
                         count_str(w.elements), count_str(limits.max_op_elements)));
    if (w.macs > limits.max_macs)
      refuse(graph, v,
             fmt::format("takes {} multiply-adds, more than the limit of {} "
                         "(Limits::max_macs)",
                         count_str(w.macs), count_str(limits.max_macs)));
    if (n.op == Op::constant) {
      constant_bytes += int64_t(n.type.byte_size()); // each <= 8 * 2^40: no overflow
      if (constant_bytes > limits.max_constant_bytes)
        refuse(graph, v,
               fmt::format("the graph's constants take {} with this one, more than "
                           "the limit of {} (Limits::max_constant_bytes)",
                           bytes_str(constant_bytes), bytes_str(limits.max_constant_bytes)));
    }
  }
}

int64_t memory_limit(const Limits& limits) {
  if (limits.max_memory_bytes > 0) return limits.max_memory_bytes;
  long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGESIZE);
  if (pages <= 0 || page <= 0) return std::numeric_limits<int64_t>::max();
  return saturating_mul(pages, page);
}

void check_memory(const Graph& graph, const Limits& limits, int64_t bytes, const std::string& what,
                  ValueId largest) {
  int64_t limit = memory_limit(limits);
  if (bytes <= limit) return;
  refuse(graph, largest,
         fmt::format("graph '{}' needs {} ({}), more than the limit of {} ({}); this value is "
                     "the largest part of it",
                     graph.name(), bytes_str(bytes), what, bytes_str(limit),
                     limits.max_memory_bytes > 0 ? "Limits::max_memory_bytes"
                                                 : "the machine's physical memory"));
}

} // namespace sj

#include "passes/plan_memory.h"

#include <algorithm>
#include <fmt/format.h>

namespace sj {

namespace {

constexpr int64_t kAlign = 64; // a cache line, and the widest vector load

int64_t align_up(int64_t n) { return (n + kAlign - 1) / kAlign * kAlign; }

Storage storage_of(const Graph& g, ValueId v, bool inlined) {
  const Node& n = g.node(v);
  switch (n.op) {
  case Op::input:
    return Storage::input;
  case Op::variable:
    return Storage::variable;
  case Op::constant:
    return Storage::constant;
  case Op::assign: {
    // The value is committed at the end of the step, after other assigns have run: a value
    // that is itself a variable (assign(a, b); assign(b, a)) is copied aside first.
    ValueId value = n.operands[1];
    while (g.node(value).op == Op::assign)
      value = g.node(value).operands[1];
    return g.node(value).op == Op::variable ? Storage::arena : Storage::alias;
  }
  default:
    return inlined ? Storage::none : Storage::arena;
  }
}

} // namespace

MemoryPlan plan_memory(const Graph& g, const FusionPlan& fusion) {
  auto n = static_cast<ValueId>(g.size());
  MemoryPlan plan;
  plan.buffers.resize(n);
  for (ValueId v = 0; v < n; ++v) {
    Buffer& b = plan.buffers[v];
    b.storage = storage_of(g, v, fusion.inlined[v]);
    b.bytes = static_cast<int64_t>(g.node(v).type.byte_size());
    // A loop group writes all its values during its one loop, which runs at its last member:
    // each is live over the whole group (from its first member, conservatively, to its last
    // member, even if nothing reads it).
    b.first = fusion.loop[v];
    b.last = fusion.loop_end[v];
  }
  // A stored value is read while the loop computing its reader runs: the loop of the reader's
  // root, to the end of that loop's group.
  auto reads = [&](ValueId value, ValueId at) {
    while (plan.buffers[value].storage == Storage::alias)
      value = g.node(value).operands[1];
    plan.buffers[value].last = std::max(plan.buffers[value].last, at);
  };
  for (ValueId v = 0; v < n; ++v) {
    const Node& node = g.node(v);
    for (ValueId o : node.operands)
      reads(o, fusion.loop_end[fusion.root[v]]);
    if (node.op == Op::assign) reads(v, n); // copied into the variable at the end
  }
  for (const Output& o : g.outputs())
    reads(o.value, n); // copied out at the end

  // First fit over the live arena blocks, in order of when each buffer becomes live (a loop
  // group's members all start at its first member, before the code between them).
  std::vector<ValueId> order;
  for (ValueId v = 0; v < n; ++v)
    if (plan.buffers[v].storage == Storage::arena) order.push_back(v);
  std::stable_sort(order.begin(), order.end(), [&](ValueId a, ValueId c) {
    return plan.buffers[a].first < plan.buffers[c].first;
  });
  std::vector<ValueId> live; // arena values, sorted by offset
  for (ValueId v : order) {
    Buffer& b = plan.buffers[v];
    std::erase_if(live, [&](ValueId u) { return plan.buffers[u].last < b.first; });
    int64_t offset = 0;
    for (ValueId u : live) {
      const Buffer& other = plan.buffers[u];
      if (offset + b.bytes <= other.offset) break;
      offset = std::max(offset, align_up(other.offset + other.bytes));
    }
    b.offset = offset;
    plan.arena_bytes = std::max(plan.arena_bytes, align_up(offset + b.bytes));
    live.insert(std::upper_bound(live.begin(), live.end(), v,
                                 [&](ValueId a, ValueId c) {
                                   return plan.buffers[a].offset < plan.buffers[c].offset;
                                 }),
                v);
  }
  // The lower bound: the most bytes simultaneously live.
  for (ValueId v = 0; v < n; ++v) {
    int64_t bytes = 0;
    for (ValueId u = 0; u < n; ++u) {
      const Buffer& b = plan.buffers[u];
      if (b.storage == Storage::arena && b.first <= v && v <= b.last) bytes += align_up(b.bytes);
    }
    plan.lower_bound_bytes = std::max(plan.lower_bound_bytes, bytes);
  }
  return plan;
}

std::string print_memory(const Graph& g, const MemoryPlan& plan) {
  static const char* names[] = {"inlined", "input", "variable", "constant", "alias", "arena"};
  std::string s = "# value                          storage     offset      bytes  live\n";
  for (ValueId v = 0; v < g.size(); ++v) {
    const Buffer& b = plan.buffers[v];
    if (b.storage == Storage::none) continue;
    const Node& n = g.node(v);
    std::string label = n.name.empty() ? fmt::format("%{}", v) : "%" + n.name;
    std::string offset = b.storage == Storage::arena ? fmt::format("{}", b.offset) : "-";
    std::string last = b.last == g.size() ? "end" : fmt::format("{}", b.last);
    s += fmt::format("  {:<30} {:<9} {:>8} {:>10}  [{}, {}]\n", label,
                     names[static_cast<int>(b.storage)], offset, b.bytes, b.first, last);
  }
  s += fmt::format("# arena: {} bytes (lower bound {} bytes)\n", plan.arena_bytes,
                   plan.lower_bound_bytes);
  return s;
}

} // namespace sj

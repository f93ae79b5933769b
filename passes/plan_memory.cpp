#include "passes/plan_memory.h"

#include <algorithm>
#include <fmt/format.h>
#include <map>
#include <optional>
#include <queue>

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

// Whether assign `a` (assign(variable, value)) may have its value computed straight into the
// variable's buffer (see plan_memory's doc comment for the conditions).
bool writes_in_place(const Graph& g, const FusionPlan& fusion, ValueId a,
                     const std::vector<std::vector<ValueId>>& readers,
                     std::optional<ValueId> last_failing) {
  const Node& assign = g.node(a);
  ValueId var = assign.operands[0], value = assign.operands[1];
  const Node& v = g.node(value);
  if (g.node(var).op != Op::variable || v.op == Op::assign || v.op == Op::variable) return false;
  if (fusion.inlined[value] || !fusion.flat[value] || v.type != g.type(var)) return false;
  if (v.def().fusion != Fusion::elementwise) return false;
  ValueId loop = fusion.loop[value], start = fusion.epilogue_of[loop]; // where the loop runs
  if (last_failing && *last_failing >= start) return false;
  for (ValueId r : readers[var]) {
    if (r == a) continue;
    const Node& reader = g.node(r);
    if (reader.op == Op::assign) return false; // a snapshot or another update of the variable
    ValueId root = fusion.root[r];
    bool before = fusion.loop_end[root] < start;
    bool same_iteration = fusion.loop[root] == loop && root <= value;
    if (!before && !same_iteration) return false;
  }
  for (ValueId r : readers[value]) // the value itself goes nowhere but its variable
    if (r != a && g.node(r).op == Op::assign) return false;
  return true;
}

} // namespace

MemoryPlan plan_memory(const Graph& g, const FusionPlan& fusion, bool in_place) {
  auto n = static_cast<ValueId>(g.size());
  MemoryPlan plan;
  plan.buffers.resize(n);
  for (ValueId v = 0; v < n; ++v) {
    Buffer& b = plan.buffers[v];
    b.storage = fusion.live[v] ? storage_of(g, v, fusion.inlined[v]) : Storage::none;
    b.bytes = static_cast<int64_t>(g.node(v).type.byte_size());
    // A loop group writes all its values during its one loop, which runs at its last member:
    // each is live over the whole group (from its first member, conservatively, to its last
    // member, even if nothing reads it).
    b.first = fusion.epilogue_of[fusion.loop[v]]; // a GEMM epilogue's values: from the GEMM
    b.last = fusion.loop_end[v];
  }
  // Assigned values written straight into their variables.
  std::vector<std::vector<ValueId>> readers(n);
  std::optional<ValueId> last_failing;
  for (ValueId v = 0; v < n; ++v) {
    if (!fusion.live[v]) continue;
    for (ValueId o : g.node(v).operands)
      readers[o].push_back(v);
    // Where it may fail: in the loop that computes it (an inlined gather's is its user's).
    if (g.node(v).def().can_fail())
      last_failing = std::max(last_failing.value_or(0), fusion.loop_end[fusion.root[v]]);
  }
  std::vector<bool> is_output(n, false);
  for (const Output& o : g.outputs())
    is_output[o.value] = true;
  for (ValueId a = 0; a < n; ++a) {
    const Node& node = g.node(a);
    if (!in_place || node.op != Op::assign || is_output[node.operands[0]] ||
        !writes_in_place(g, fusion, a, readers, last_failing))
      continue;
    Buffer& b = plan.buffers[node.operands[1]];
    b.storage = Storage::in_place;
    b.target = node.operands[0];
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
    if (!fusion.live[v]) continue; // dead code reads nothing
    // A GEMM reads its operands until its epilogue loop is done.
    ValueId root = fusion.root[v], until = fusion.loop_end[fusion.epilogue[root]];
    for (ValueId o : node.operands)
      reads(o, std::max(fusion.loop_end[root], until));
    if (node.op == Op::assign) reads(v, n); // copied into the variable at the end
  }
  for (const Output& o : g.outputs())
    reads(o.value, n); // copied out at the end

  // Two greedy placements, keeping the smaller arena: in order of first use (good when buffers
  // die young), and largest first (TFLite's greedy-by-size: big buffers claim the low offsets,
  // small ones fill the gaps between them). Each buffer goes at the lowest offset where it
  // overlaps no placed buffer that is live at the same time.
  std::vector<ValueId> by_first;
  for (ValueId v = 0; v < n; ++v)
    if (plan.buffers[v].storage == Storage::arena) by_first.push_back(v);
  std::stable_sort(by_first.begin(), by_first.end(), [&](ValueId a, ValueId c) {
    return plan.buffers[a].first < plan.buffers[c].first;
  });
  std::vector<ValueId> by_size = by_first;
  std::stable_sort(by_size.begin(), by_size.end(), [&](ValueId a, ValueId c) {
    return plan.buffers[a].bytes > plan.buffers[c].bytes;
  });
  // Largest first: each buffer against every placed one (quadratic in the buffers).
  auto place = [&](const std::vector<ValueId>& order) {
    std::vector<int64_t> offsets(n, 0);
    int64_t arena = 0;
    std::vector<ValueId> placed;
    for (ValueId v : order) {
      const Buffer& b = plan.buffers[v];
      std::vector<std::pair<int64_t, int64_t>> taken; // [offset, end) of live-together buffers
      for (ValueId u : placed) {
        const Buffer& o = plan.buffers[u];
        if (o.first <= b.last && b.first <= o.last)
          taken.emplace_back(offsets[u], offsets[u] + o.bytes);
      }
      std::sort(taken.begin(), taken.end());
      int64_t offset = 0;
      for (auto [begin, end] : taken) {
        if (offset + b.bytes <= begin) break;
        offset = std::max(offset, align_up(end));
      }
      offsets[v] = offset;
      arena = std::max(arena, align_up(offset + b.bytes));
      placed.push_back(v);
    }
    return std::pair{arena, offsets};
  };
  // First-use order: every placed buffer still live at a buffer's first use is live together
  // with it (and no other is), so the same greedy is a first-fit allocator over the gaps free at
  // that moment: O(buffers x gaps), for steps of a million nodes whose forward values all live
  // until the backward pass.
  auto place_first_fit = [&](const std::vector<ValueId>& order) {
    std::vector<int64_t> offsets(n, 0);
    std::map<int64_t, int64_t> gaps; // offset -> size, below `top`
    int64_t top = 0, arena = 0;
    using Expiry = std::pair<ValueId, ValueId>; // (last reader, value)
    std::priority_queue<Expiry, std::vector<Expiry>, std::greater<>> live;
    auto release = [&](int64_t at, int64_t size) {
      auto next = gaps.lower_bound(at);
      if (next != gaps.end() && next->first == at + size) {
        size += next->second;
        next = gaps.erase(next);
      }
      if (next != gaps.begin()) {
        auto prev = std::prev(next);
        if (prev->first + prev->second == at) {
          at = prev->first;
          size += prev->second;
          gaps.erase(prev);
        }
      }
      if (at + size == top)
        top = at;
      else
        gaps[at] = size;
    };
    for (ValueId v : order) {
      const Buffer& b = plan.buffers[v];
      for (; !live.empty() && live.top().first < b.first; live.pop()) {
        ValueId u = live.top().second;
        release(offsets[u], align_up(plan.buffers[u].bytes));
      }
      int64_t size = align_up(b.bytes), offset = top;
      for (auto it = gaps.begin(); it != gaps.end(); ++it)
        if (it->second >= size) {
          offset = it->first;
          int64_t rest = it->second - size;
          gaps.erase(it);
          if (rest > 0) gaps[offset + size] = rest;
          break;
        }
      if (offset == top) top += size;
      offsets[v] = offset;
      arena = std::max(arena, offset + size);
      if (size > 0) live.push({b.last, v});
    }
    return std::pair{arena, offsets};
  };
  auto [first_arena, first_offsets] = place_first_fit(by_first);
  // Largest first compares every pair of buffers: past kMaxPairwise buffers the first-use
  // placement alone (within a few percent on the workloads, docs/compiler.md) is kept.
  constexpr size_t kMaxPairwise = 8192;
  bool size_wins = false;
  std::vector<int64_t> size_offsets;
  if (by_size.size() <= kMaxPairwise) {
    auto [size_arena, offsets] = place(by_size);
    size_wins = size_arena < first_arena;
    if (size_wins) first_arena = size_arena;
    size_offsets = std::move(offsets);
  }
  plan.arena_bytes = first_arena;
  for (ValueId v : by_first)
    plan.buffers[v].offset = size_wins ? size_offsets[v] : first_offsets[v];
  // The lower bound: the most bytes simultaneously live, in one sweep over the live ranges.
  std::vector<int64_t> change(size_t(n) + 2, 0);
  for (ValueId v : by_first) {
    const Buffer& b = plan.buffers[v];
    change[b.first] += align_up(b.bytes);
    change[size_t(b.last) + 1] -= align_up(b.bytes);
  }
  int64_t live = 0;
  for (int64_t c : change)
    plan.lower_bound_bytes = std::max(plan.lower_bound_bytes, live += c);
  return plan;
}

std::string print_memory(const Graph& g, const MemoryPlan& plan) {
  static const char* names[] = {"inlined", "input", "variable", "constant",
                                "alias",   "arena", "in-place"};
  std::string s = "# value                          storage     offset      bytes  live\n";
  for (ValueId v = 0; v < g.size(); ++v) {
    const Buffer& b = plan.buffers[v];
    if (b.storage == Storage::none) continue;
    const Node& n = g.node(v);
    std::string label = n.name.empty() ? fmt::format("%{}", v) : "%" + n.name;
    std::string offset = b.storage == Storage::arena      ? fmt::format("{}", b.offset)
                         : b.storage == Storage::in_place ? "%" + g.node(b.target).name
                                                          : "-";
    std::string last = b.last == g.size() ? "end" : fmt::format("{}", b.last);
    s += fmt::format("  {:<30} {:<9} {:>8} {:>10}  [{}, {}]\n", label,
                     names[static_cast<int>(b.storage)], offset, b.bytes, b.first, last);
  }
  s += fmt::format("# arena: {} bytes (lower bound {} bytes)\n", plan.arena_bytes,
                   plan.lower_bound_bytes);
  return s;
}

} // namespace sj

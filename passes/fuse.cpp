#include "passes/fuse.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <functional>

namespace sj {

namespace {

bool has_element_rule(const Node& n) {
  return n.def().fusion == Fusion::elementwise || n.def().fusion == Fusion::index_map;
}

// Nodes that emit no loop of their own: their storage is given (sources), or they are copies at
// the end of the step (assign).
bool emits_code(const Node& n) {
  return n.op != Op::input && n.op != Op::variable && n.op != Op::constant && n.op != Op::assign;
}

// True when every element the loop of `v` reads is at v's own position or a single element.
bool flat_loop(const Graph& g, const std::vector<bool>& inlined, ValueId v) {
  const Node& n = g.node(v);
  if (n.def().fusion != Fusion::elementwise || n.type.rank() == 0) return false;
  for (ValueId o : n.operands) {
    const Shape& s = g.type(o).shape;
    if (num_elements(s) == 1) continue;
    if (s != n.type.shape) return false;
    if (inlined[o] && !flat_loop(g, inlined, o)) return false;
  }
  return true;
}

} // namespace

FusionPlan fuse(const Graph& g) {
  size_t n = g.size();
  std::vector<int> uses(n, 0);
  std::vector<ValueId> user(n, 0);
  for (ValueId v = 0; v < n; ++v)
    for (ValueId o : g.node(v).operands) {
      ++uses[o];
      user[o] = v;
    }
  for (const Output& o : g.outputs())
    uses[o.value] += 2; // outputs are stored

  FusionPlan plan;
  plan.live = g.live_values();
  plan.inlined.assign(n, false);
  plan.root.resize(n);
  plan.flat.assign(n, false);
  plan.loop.resize(n);
  plan.loop_end.resize(n);
  // depth[v]: the longest chain of inlined values ending in v (0 for a stored value).
  std::vector<int> depth(n, 0);
  for (ValueId v = 0; v < n; ++v) {
    const Node& node = g.node(v);
    if (!plan.live[v] || !has_element_rule(node) || uses[v] != 1) continue;
    const Node& u = g.node(user[v]);
    bool same_shape = has_element_rule(u) && u.type.shape == node.type.shape;
    int d = 1;
    for (ValueId o : node.operands)
      if (plan.inlined[o]) d = std::max(d, depth[o] + 1);
    if (d > kMaxInlineDepth) continue; // stored: its users' chains start again here
    plan.inlined[v] = same_shape || u.def().fusion == Fusion::reduction;
    if (plan.inlined[v]) depth[v] = d;
  }
  // Roots, from the last node back: an inlined value belongs to its user's group.
  for (ValueId v = static_cast<ValueId>(n); v-- > 0;)
    plan.root[v] = plan.inlined[v] ? plan.root[user[v]] : v;

  // Loop groups: flat loops over one shape. Code between two members that reads no member
  // (scalars such as Adam's bias corrections) runs before the group's loop, which the driver
  // emits at the group's last member.
  constexpr ValueId kNone = ~ValueId{0};
  ValueId open = kNone; // the first value of the loop group being formed
  std::vector<bool> member(n, false);
  std::function<bool(ValueId)> reads_member = [&](ValueId v) {
    for (ValueId o : g.node(v).operands) {
      while (g.node(o).op == Op::assign)
        o = g.node(o).operands[1]; // an assign is its value
      if (member[o] || (plan.inlined[o] && reads_member(o))) return true;
    }
    return false;
  };
  // The ops that can fail at run time (gather's indices) computed in v's loop: their checks run
  // before the group's loop (codegen emits them there, so a failing step stops before any
  // member is stored), so their operands must not be members.
  std::vector<std::vector<ValueId>> failing(n);
  for (ValueId v = 0; v < n; ++v)
    if (plan.live[v] && g.node(v).def().can_fail()) failing[plan.root[v]].push_back(v);
  auto checks_read_member = [&](ValueId v) {
    for (ValueId f : failing[v])
      if (reads_member(f)) return true;
    return false;
  };
  auto close = [&] {
    if (open == kNone) return;
    for (ValueId m = open; m < n; ++m)
      member[m] = false;
    open = kNone;
  };
  for (ValueId v = 0; v < n; ++v) {
    plan.loop[v] = plan.loop_end[v] = v;
    const Node& node = g.node(v);
    if (plan.inlined[v] || !emits_code(node) || !plan.live[v]) continue;
    plan.flat[v] = flat_loop(g, plan.inlined, v);
    // A group spans at most kMaxLoopSpan nodes: one loop body of a whole 10^5-op chain is more
    // than LLVM's code generator can schedule in reasonable time.
    if (plan.flat[v] && open != kNone && g.type(open).shape == node.type.shape &&
        v - open < kMaxLoopSpan && !checks_read_member(v)) {
      plan.loop[v] = open;
      member[v] = true;
      continue;
    }
    if (!plan.flat[v] && open != kNone && !reads_member(v))
      continue; // runs before the group's loop
    close();
    if (plan.flat[v]) {
      open = v;
      member[v] = true;
    }
  }
  for (ValueId v = 0; v < n; ++v)
    plan.loop_end[plan.loop[v]] = v;
  for (ValueId v = 0; v < n; ++v)
    plan.loop_end[v] = plan.loop_end[plan.loop[v]];

  // GEMM epilogues: the loop of C's first flat reader over C's shape runs as the epilogue of the
  // f32 matrix product or convolution C (kernels/gemm.h, kernels/conv.h), on each block of C as it
  // is finished, while the block is in cache, when everything else the loop reads is ready before
  // C.
  plan.epilogue.resize(n);
  plan.epilogue_of.resize(n);
  for (ValueId v = 0; v < n; ++v)
    plan.epilogue[v] = plan.epilogue_of[v] = v;
  for (ValueId c = 0; c < n; ++c) {
    const Node& node = g.node(c);
    // Small products gain nothing from it (their result stays in cache anyway) and would cost
    // an outlined function each, in compile time and calls.
    constexpr int64_t kMinElements = 1 << 14;
    // An f32 conv2d of one group is a GEMM too (kernels/conv.h), its result an
    // [N*OH*OW, F] matrix.
    const bool gemm = (node.op == Op::matmul && node.type.rank() == 2) ||
                      (node.op == Op::conv2d && node.attrs.integer("groups") == 1);
    if (!gemm || node.type.dtype != DType::f32 || node.type.num_elements() < kMinElements ||
        g.type(node.operands[0]).num_elements() == 0) // K = 0: no GEMM runs (codegen)
      continue;
    ValueId first = kNone;
    for (ValueId u = c + 1; u < n && first == kNone; ++u)
      for (ValueId o : plan.live[u] ? g.node(u).operands : std::vector<ValueId>{})
        if (o == c) {
          // A flat loop (group), or one elementwise value (which may broadcast other operands).
          ValueId root = plan.root[u];
          bool single = plan.loop[root] == root && plan.loop_end[root] == root &&
                        g.node(root).def().fusion == Fusion::elementwise;
          if ((plan.flat[root] || single) && g.type(root).shape == node.type.shape)
            first = plan.loop[root];
          break;
        }
    if (first == kNone || plan.epilogue_of[first] != first) continue;
    // A single value (a bias add, broadcasting the bias) takes the flat loop right after it
    // along (the activation) when only code-free nodes lie between them.
    ValueId next = kNone;
    if (!plan.flat[first] && plan.loop_end[first] == first) {
      ValueId u = first + 1;
      while (u < n && (plan.inlined[u] || !emits_code(g.node(u))))
        ++u;
      if (u < n && plan.flat[u] && plan.loop[u] == u && g.type(u).shape == node.type.shape)
        next = u;
    }
    auto own = [&](ValueId o) {
      ValueId l = plan.loop[plan.root[o]];
      return l == first || (next != kNone && l == next);
    };
    // Everything the loop reads, but C and its own members, must be computed before C.
    bool ready = true;
    std::function<void(ValueId)> check = [&](ValueId v) {
      for (ValueId o : g.node(v).operands) {
        while (g.node(o).op == Op::assign)
          o = g.node(o).operands[1]; // an assign is its value
        if (o == c) continue;
        if (own(o) && plan.inlined[o])
          check(o);
        else if (!own(o) && emits_code(g.node(o)) && plan.loop_end[plan.root[o]] >= c)
          ready = false;
      }
    };
    // The checks of failing ops in the loop run before the product: they must not read C.
    std::function<bool(ValueId)> reads_c = [&](ValueId v) {
      for (ValueId o : g.node(v).operands)
        if (o == c || (plan.inlined[o] && reads_c(o))) return true;
      return false;
    };
    ValueId last = next != kNone ? plan.loop_end[next] : plan.loop_end[first];
    for (ValueId m = first; m <= last; ++m)
      if (own(m) && !plan.inlined[m] && emits_code(g.node(m))) {
        check(m);
        for (ValueId f : failing[m])
          if (reads_c(f)) ready = false;
      }
    if (!ready) continue;
    if (next != kNone)
      for (ValueId m = first; m <= last; ++m)
        if (own(m)) {
          if (!plan.inlined[m]) plan.loop[m] = first;
          plan.loop_end[m] = last;
        }
    plan.epilogue[c] = first;
    plan.epilogue_of[first] = c;
  }
  return plan;
}

std::string print_fusion(const Graph& g, const FusionPlan& plan) {
  std::vector<std::vector<ValueId>> members(g.size());
  for (ValueId v = 0; v < g.size(); ++v)
    if (plan.inlined[v]) members[plan.root[v]].push_back(v);
  auto label = [&](ValueId v) {
    const Node& n = g.node(v);
    return n.name.empty() ? fmt::format("{} %{}", n.def().name, v)
                          : fmt::format("{} %{}", n.def().name, n.name);
  };
  std::string s;
  int groups = 0, fused = 0;
  for (ValueId v = 0; v < g.size(); ++v) {
    if (plan.inlined[v] || members[v].empty()) continue;
    std::vector<std::string> inner;
    for (ValueId m : members[v])
      inner.push_back(label(m));
    s += fmt::format("# group: {} <- {}\n", label(v), fmt::join(inner, ", "));
    ++groups;
    fused += int(members[v].size());
  }
  int loops = 0;
  for (ValueId v = 0; v < g.size(); ++v) {
    if (plan.loop[v] != v || plan.loop_end[v] == v) continue;
    std::vector<std::string> stored;
    for (ValueId m = v; m <= plan.loop_end[v]; ++m)
      if (plan.loop[m] == v && !plan.inlined[m] && g.node(m).op != Op::assign &&
          g.node(m).def().fusion == Fusion::elementwise)
        stored.push_back(label(m));
    s += fmt::format("# loop over {}: {}\n", g.type(v).str(), fmt::join(stored, ", "));
    ++loops;
  }
  int epilogues = 0;
  for (ValueId v = 0; v < g.size(); ++v)
    if (plan.epilogue.size() == g.size() && plan.epilogue[v] != v) {
      s += fmt::format("# epilogue of {}: the loop of {}\n", label(v), label(plan.epilogue[v]));
      ++epilogues;
    }
  s += fmt::format("# {} fused groups, {} values never stored, {} loops computing several "
                   "stored values, {} GEMM epilogues\n",
                   groups, fused, loops, epilogues);
  return s;
}

} // namespace sj

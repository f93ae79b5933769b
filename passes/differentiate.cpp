#include "passes/differentiate.h"

#include "graph/gradient.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace sj {

namespace {

// For every node up to `last`: does it depend on a wrt value through gradient-carrying edges?
std::vector<bool> depends_on(const Graph& g, const std::vector<bool>& is_wrt, ValueId last) {
  std::vector<bool> d(last + 1, false);
  for (ValueId v = 0; v <= last; ++v) {
    d[v] = is_wrt[v];
    const Node& n = g.node(v);
    for (size_t i = 0; i < n.operands.size() && !d[v]; ++i)
      d[v] = d[n.operands[i]] && carries_gradient(g, n, i);
  }
  return d;
}

// For every node up to `loss`: does the loss depend on it (through carrying edges only, or
// through any edge when `any_edge`)?
std::vector<bool> reaches(const Graph& g, ValueId loss, bool any_edge) {
  std::vector<bool> r(loss + 1, false);
  r[loss] = true;
  for (ValueId v = loss + 1; v-- > 0;) {
    if (!r[v]) continue;
    const Node& n = g.node(v);
    for (size_t i = 0; i < n.operands.size(); ++i)
      if (any_edge || carries_gradient(g, n, i)) r[n.operands[i]] = true;
  }
  return r;
}

// Why `w`, which reaches the loss through some edges, reaches it through none that carry a
// gradient: the first node where its gradient stops.
std::string blocked_reason(const Graph& g, ValueId w, ValueId loss,
                           const std::vector<bool>& reaches_any) {
  std::vector<bool> from_w(loss + 1, false);
  from_w[w] = true;
  for (ValueId v = w + 1; v <= loss; ++v) {
    const Node& n = g.node(v);
    for (size_t i = 0; i < n.operands.size(); ++i) {
      if (!from_w[n.operands[i]]) continue;
      if (carries_gradient(g, n, i)) {
        from_w[v] = true;
        continue;
      }
      if (!reaches_any[v]) continue;
      std::string why =
          !is_float(n.type.dtype)
              ? fmt::format("its result is {}, and integer and bool values carry no gradient",
                            n.type.str())
          : !is_float(g.type(n.operands[i]).dtype)
              ? fmt::format("its operand is {}, and integer and bool values carry no gradient",
                            g.type(n.operands[i]).str())
              : fmt::format("{} passes no gradient", n.def().name);
      return fmt::format("{} reaches the loss only through {} at {}: {}", value_label(g, w),
                         n.def().name, n.loc.str(), why);
    }
  }
  return fmt::format("{} reaches the loss only through ops that pass no gradient",
                     value_label(g, w));
}

void check_arguments(const Graph& g, ValueId loss, const std::vector<ValueId>& wrt,
                     const Location& loc) {
  if (loss >= g.size())
    throw Error(
        loc, fmt::format("gradients: the loss %{} is not a value of graph '{}'", loss, g.name()));
  const TensorType& t = g.type(loss);
  if (t.rank() != 0)
    throw Error(loc, fmt::format("gradients: the loss must be a scalar, but {} is {}; reduce it "
                                 "first, e.g. with reduce_mean or reduce_sum",
                                 value_label(g, loss), t.str()));
  if (!is_float(t.dtype))
    throw Error(loc, fmt::format("gradients: the loss must be floating point, but {} is {}",
                                 value_label(g, loss), t.str()));
  if (wrt.empty())
    throw Error(loc, "gradients: `wrt` is empty: list the values to differentiate with respect "
                     "to (usually every trainable variable)");
  for (ValueId w : wrt) {
    if (w >= g.size())
      throw Error(loc,
                  fmt::format("gradients: %{} in `wrt` is not a value of graph '{}'", w, g.name()));
    if (!is_float(g.type(w).dtype))
      throw Error(loc, fmt::format("gradients: {} is {}: integer and bool values carry no "
                                   "gradient, so it cannot be in `wrt`",
                                   value_label(g, w), g.type(w).str()));
  }
}

// Names a gradient `grad.<name>` when it is a fresh, unnamed node and the name is free.
void name_gradient(Graph& g, ValueId grad, ValueId w, ValueId first_new) {
  const std::string& name = g.node(w).name;
  if (name.empty() || grad < first_new || !g.node(grad).name.empty()) return;
  std::string wanted = "grad." + name;
  if (!g.find(wanted)) g.set_name(grad, wanted);
}

} // namespace

std::vector<ValueId> differentiate(Graph& g, ValueId loss, const std::vector<ValueId>& wrt,
                                   const GradientOptions& options, const Location& loc) {
  check_arguments(g, loss, wrt, loc);
  std::vector<bool> is_wrt(loss + 1, false);
  for (ValueId w : wrt)
    if (w <= loss) is_wrt[w] = true;
  std::vector<bool> depends = depends_on(g, is_wrt, loss);
  std::vector<bool> reach = reaches(g, loss, /*any_edge=*/false);

  std::vector<ValueId> unconnected;
  for (ValueId w : wrt)
    if (w > loss || !reach[w]) unconnected.push_back(w);
  if (!unconnected.empty() && options.unconnected == Unconnected::error) {
    std::vector<bool> reach_any = reaches(g, loss, /*any_edge=*/true);
    std::vector<std::string> names, reasons;
    for (ValueId w : unconnected) {
      names.push_back(value_label(g, w));
      if (w <= loss && reach_any[w]) reasons.push_back(blocked_reason(g, w, loss, reach_any));
    }
    std::string msg = fmt::format(
        "gradients: the loss {} does not depend on {}{}. If zero gradients are intended, pass "
        "GradientOptions{{.unconnected = Unconnected::zero}} (like TensorFlow's "
        "unconnected_gradients=ZERO)",
        value_label(g, loss), fmt::join(names, ", "),
        reasons.empty() ? "" : fmt::format(" ({})", fmt::join(reasons, "; ")));
    throw Error(loc, msg);
  }

  const auto first_new = static_cast<ValueId>(g.size());
  std::vector<std::optional<Value>> adjoint(loss + 1);
  adjoint[loss] = scalar(g, 1.0, g.type(loss).dtype, loc);
  for (ValueId v = loss + 1; v-- > 0;) {
    if (!adjoint[v] || !depends[v]) continue;
    const Node node = g.node(v); // a copy: rules append to the graph
    GradCall call{g, v, {}, Value(g, v), *adjoint[v], {}, {}};
    bool any = false;
    for (size_t i = 0; i < node.operands.size(); ++i) {
      call.x.emplace_back(g, node.operands[i]);
      bool want = carries_gradient(g, node, i) && depends[node.operands[i]];
      call.wanted.push_back(want);
      any = any || want;
    }
    if (!any) continue;
    call.grads.resize(node.operands.size());
    // The rule's nodes point at the user's line of the op they differentiate.
    AttributeTo attribute(g, node.loc, fmt::format("the gradient of {}", node_label(node)));
    node.def().grad(call);
    for (size_t i = 0; i < node.operands.size(); ++i) {
      if (!call.wanted[i]) continue;
      ValueId x = node.operands[i];
      if (!call.grads[i] || call.grads[i]->type() != g.type(x))
        internal_error(fmt::format(
            "the gradient rule of {} gave {} for operand {} of type {}", node.def().name,
            call.grads[i] ? call.grads[i]->type().str() : "nothing", i, g.type(x).str()));
      adjoint[x] = adjoint[x] ? add(*adjoint[x], *call.grads[i], loc) : *call.grads[i];
    }
  }

  std::vector<ValueId> result;
  for (ValueId w : wrt) {
    bool connected = w <= loss && adjoint[w];
    if (!connected && options.unconnected == Unconnected::none) {
      result.push_back(kNoGradient);
      continue;
    }
    ValueId grad = connected ? adjoint[w]->id() : fill(g, g.type(w), 0.0, loc).id();
    name_gradient(g, grad, w, first_new);
    result.push_back(grad);
  }
  return result;
}

} // namespace sj

#include "runtime/summary.h"

#include "frontend/gradients.h"
#include "graph/limits.h"
#include "graph/print.h"
#include "graph/verify.h"
#include "passes/fuse.h"
#include "passes/plan_memory.h"
#include "passes/simplify.h"

#include <algorithm>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <map>

namespace sj {

std::vector<ValueId> trainable_variables(const Graph& graph) {
  std::vector<bool> assigned(graph.size(), false);
  for (ValueId a : graph.nodes_of(Op::assign))
    assigned[graph.node(a).operands[0]] = true;
  std::vector<ValueId> vars;
  for (ValueId v : graph.nodes_of(Op::variable))
    if (is_float(graph.type(v).dtype) && !assigned[v]) vars.push_back(v);
  return vars;
}

namespace {

// `dense_0` of `dense_0/kernel`; for a variable named as GPT-2's checkpoints name them,
// `h.0.ln_1` of `h.0.ln_1.weight`; empty for a name without a layer prefix.
std::string prefix_of(const Node& node) {
  const std::string& name = node.name;
  size_t cut = name.rfind('/');
  if (cut == std::string::npos && node.op == Op::variable) cut = name.rfind('.');
  return cut == std::string::npos || cut == 0 ? std::string() : name.substr(0, cut);
}

// The layer of every node (empty: none), by the rule of summary.h.
std::vector<std::string> layers_of(const Graph& g) {
  std::vector<std::string> layer(g.size());
  std::map<std::string, ValueId> last; // the latest node of each layer
  for (ValueId v = 0; v < g.size(); ++v) {
    const Node& n = g.node(v);
    layer[v] = prefix_of(n);
    if (n.def().declares_type) continue;
    if (layer[v].empty())
      for (ValueId o : n.operands)
        if (g.node(o).op == Op::variable && !layer[o].empty()) {
          layer[v] = layer[o];
          break;
        }
    // An activation applied to the layer's output is part of the layer (Dense(..., relu)).
    if (layer[v].empty() && n.def().fusion == Fusion::elementwise && n.operands.size() == 1) {
      ValueId o = n.operands[0];
      if (!layer[o].empty() && last.count(layer[o]) && last[layer[o]] == o) layer[v] = layer[o];
    }
    if (!layer[v].empty()) last[layer[v]] = v;
  }
  return layer;
}

int64_t sum_flops(const Graph& g, const std::vector<bool>& live, size_t begin, size_t end) {
  int64_t flops = 0;
  for (size_t v = begin; v < end; ++v)
    if (live[v]) flops += flops_of(g, g.node(ValueId(v)));
  return flops;
}

// "1,234,567".
std::string grouped(int64_t n) {
  std::string digits = std::to_string(n < 0 ? -n : n), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return n < 0 ? "-" + out : out;
}

std::string bytes_str(int64_t bytes) {
  if (bytes >= int64_t{1} << 30) return fmt::format("{:.1f} GiB", double(bytes) / (1 << 30));
  if (bytes >= int64_t{1} << 20) return fmt::format("{:.1f} MiB", double(bytes) / (1 << 20));
  if (bytes >= int64_t{1} << 10) return fmt::format("{:.1f} KiB", double(bytes) / (1 << 10));
  return fmt::format("{} bytes", bytes);
}

std::string flops_str(int64_t flops) {
  if (flops >= 1'000'000'000) return fmt::format("{:.3g} GFLOP", double(flops) * 1e-9);
  if (flops >= 1'000'000) return fmt::format("{:.3g} MFLOP", double(flops) * 1e-6);
  return fmt::format("{} FLOP", grouped(flops));
}

} // namespace

ModelSummary summarize(const Graph& forward, const SummaryOptions& options) {
  ModelSummary s;
  s.graph = forward.name();
  const Graph& f = forward;
  std::vector<std::string> layer = layers_of(f);
  std::vector<bool> live = f.live_values();
  std::vector<std::string> labels = value_labels(f); // `%4`, as the text form numbers it

  // Variables and their parameter counts.
  std::vector<bool> trainable(f.size(), false);
  for (ValueId v : trainable_variables(f))
    trainable[v] = true;
  for (ValueId v : f.nodes_of(Op::variable)) {
    const TensorType& t = f.type(v);
    s.variables.push_back({f.node(v).name, t, trainable[v]});
    s.total_params += t.num_elements();
    (trainable[v] ? s.trainable_params : s.non_trainable_params) += t.num_elements();
    s.param_bytes += int64_t(t.byte_size());
  }

  // Rows: inputs, then layers (at their first node) and single nodes.
  std::map<std::string, size_t> layer_row;
  std::vector<bool> counted(f.size(), false); // variables already in a row's params
  for (ValueId v : f.nodes_of(Op::input))
    s.rows.push_back({f.node(v).name, {"input"}, f.type(v), 0, 0, false});
  for (ValueId v = 0; v < f.size(); ++v) {
    const Node& n = f.node(v);
    if (n.def().declares_type) continue;
    size_t r;
    if (layer[v].empty()) {
      r = s.rows.size();
      s.rows.push_back({n.name.empty() ? labels[v] : n.name, {}, {}, 0, 0, false});
    } else {
      auto [it, added] = layer_row.emplace(layer[v], s.rows.size());
      if (added) s.rows.push_back({layer[v], {}, {}, 0, 0, true});
      r = it->second;
    }
    ModelSummary::Row& row = s.rows[r];
    std::string op(n.def().name);
    if (std::find(row.ops.begin(), row.ops.end(), op) == row.ops.end()) row.ops.push_back(op);
    row.output = n.type;
    if (live[v]) row.flops += flops_of(f, n);
    for (ValueId o : n.operands)
      if (f.node(o).op == Op::variable && !counted[o]) {
        counted[o] = true;
        // A layer's variable counts in its layer's row, whoever reads it first.
        auto own = layer[o].empty() ? layer_row.end() : layer_row.find(layer[o]);
        s.rows[own == layer_row.end() ? r : own->second].params += f.type(o).num_elements();
      }
  }

  Graph step = forward;
  s.forward_flops = sum_flops(f, live, 0, f.size());
  if (options.optimizer) {
    auto loss = step.output(options.loss);
    if (!loss) {
      std::vector<std::string> names;
      for (const Output& o : step.outputs())
        names.push_back(o.name);
      throw Error({},
                  fmt::format("summary: graph '{}' has no output named '{}' to minimize (its "
                              "outputs: {})",
                              step.name(), options.loss,
                              names.empty() ? "none" : fmt::format("{}", fmt::join(names, ", "))));
    }
    std::vector<Value> vars;
    for (ValueId v : trainable_variables(step))
      vars.emplace_back(step, v);
    if (vars.empty())
      throw Error({}, fmt::format("summary: graph '{}' has no trainable variables (floating-point "
                                  "variables it does not assign itself) to train",
                                  step.name()));
    size_t n0 = step.size();
    std::vector<Value> grads = gradients(Value(step, *loss), vars);
    size_t n1 = step.size();
    auto optimizer = make_optimizer(*options.optimizer);
    optimizer->apply_gradients(zip(grads, vars));
    size_t n2 = step.size();
    verify(step);
    s.training = true;
    s.optimizer = optimizer->name();
    for (size_t v = n0; v < n2; ++v)
      if (step.node(ValueId(v)).op == Op::variable)
        s.optimizer_params += step.type(ValueId(v)).num_elements();
    std::vector<bool> step_live = step.live_values();
    s.forward_flops = sum_flops(step, step_live, 0, n0);
    s.backward_flops = sum_flops(step, step_live, n0, n1);
    s.update_flops = sum_flops(step, step_live, n1, n2);
  }
  Graph simplified = simplify(step);
  MemoryPlan plan = plan_memory(simplified, fuse(simplified));
  s.arena_bytes = plan.arena_bytes;
  s.arena_lower_bound_bytes = plan.lower_bound_bytes;
  return s;
}

std::string format_summary(const ModelSummary& s) {
  struct Line {
    std::string name, type, params, flops;
  };
  std::vector<Line> rows;
  bool layers = false;
  for (const ModelSummary::Row& r : s.rows) {
    layers = layers || r.is_layer;
    rows.push_back({fmt::format("{} ({})", r.name, fmt::join(r.ops, ", ")), r.output.str(),
                    grouped(r.params), grouped(r.flops)});
  }
  std::vector<Line> vars;
  for (const ModelSummary::Variable& v : s.variables)
    vars.push_back(
        {v.name, v.type.str(), grouped(v.type.num_elements()), v.trainable ? "yes" : "no"});
  Line head{layers ? "Layer (ops)" : "Op", "Output shape", "Param #", "FLOPs (forward)"};
  Line var_head{"Variable", "Type", "Param #", "Trainable"};
  size_t w[4] = {0, 0, 0, 0};
  for (const std::vector<Line>* table : {&rows, &vars})
    for (const Line& l : *table) {
      w[0] = std::max(w[0], l.name.size());
      w[1] = std::max(w[1], l.type.size());
      w[2] = std::max(w[2], l.params.size());
      w[3] = std::max(w[3], l.flops.size());
    }
  for (const Line& l : {head, var_head}) {
    w[0] = std::max(w[0], l.name.size());
    w[1] = std::max(w[1], l.type.size());
    w[2] = std::max(w[2], l.params.size());
    w[3] = std::max(w[3], l.flops.size());
  }
  auto line = [&](const Line& l, bool left_last) {
    std::string text =
        fmt::format("{:<{}}  {:<{}}  {:>{}}  ", l.name, w[0], l.type, w[1], l.params, w[2]);
    text += left_last ? fmt::format("{}", l.flops) : fmt::format("{:>{}}", l.flops, w[3]);
    while (!text.empty() && text.back() == ' ')
      text.pop_back();
    return text + "\n";
  };
  std::string rule(w[0] + w[1] + w[2] + w[3] + 6, '=');
  std::string out = fmt::format("Model: \"{}\" ({})\n", s.graph,
                                s.training ? fmt::format("the training step: {}", s.optimizer)
                                           : "the forward graph");
  out += rule + "\n" + line(head, false) + rule + "\n";
  for (const Line& l : rows)
    out += line(l, false);
  out += rule + "\n";
  if (!vars.empty()) {
    out += line(var_head, true);
    for (const Line& l : vars)
      out += line(l, true);
    out += rule + "\n";
  }
  out += fmt::format("Total params: {} ({})\n", grouped(s.total_params), bytes_str(s.param_bytes));
  out += fmt::format("Trainable params: {}\n", grouped(s.trainable_params));
  out += fmt::format("Non-trainable params: {}\n", grouped(s.non_trainable_params));
  if (s.training)
    out += fmt::format("Optimizer state: {} ({}'s slots, step counter and hyperparameters)\n",
                       grouped(s.optimizer_params), s.optimizer);
  if (s.training)
    out += fmt::format("FLOPs per step: {} forward, {} backward, {} update; {} in all\n",
                       flops_str(s.forward_flops), flops_str(s.backward_flops),
                       flops_str(s.update_flops),
                       flops_str(s.forward_flops + s.backward_flops + s.update_flops));
  else
    out += fmt::format("FLOPs per step: {} forward (the forward graph only: no training step was "
                       "built, so no backward pass or update)\n",
                       flops_str(s.forward_flops));
  out += fmt::format("Arena: {} bytes ({}; liveness lower bound {} bytes) for the {}\n",
                     grouped(s.arena_bytes), bytes_str(s.arena_bytes),
                     grouped(s.arena_lower_bound_bytes),
                     s.training ? "training step" : "forward graph");
  return out;
}

std::string summary(const Graph& forward, const SummaryOptions& options) {
  return format_summary(summarize(forward, options));
}

} // namespace sj

// A model at a glance, like Keras's model.summary(): its layers (or ops) with output shapes,
// parameter counts per variable and in total, trainable or not, the floating-point operations of
// a step (forward, backward, update) and the compiled step's scratch arena.
//
//   std::cout << sj::summary(g);                                    // the forward graph
//   std::cout << sj::summary(g, {.optimizer = sj::OptimizerSpec{}}); // its training step (adam)
//
// Layers are the name prefixes the frontend gives variables (`dense_0/kernel` belongs to layer
// `dense_0`, and in GPT-2's dotted names `h.0.attn.c_attn.weight` to `h.0.attn.c_attn`): a node
// reading a layer's variable, or named with its prefix, belongs to the layer, and so does a
// one-operand elementwise op (the activation) applied to the layer's last node. Every other node is
// a row of its own, named by its op. A graph without prefixed names is summarized op by op.
#pragma once

#include "frontend/optimizers.h"
#include "graph/graph.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace sj {

/// The variables training updates by default (`--wrt all-variables`): the floating-point
/// variables the graph does not assign itself. Integer counters and state the graph updates on
/// its own (a Dropout counter, a batch norm's moving statistics) are not trainable.
std::vector<ValueId> trainable_variables(const Graph& graph);

struct SummaryOptions {
  /// Summarize the training step this optimizer builds (the gradients of output `loss` with
  /// respect to trainable_variables(), then the update), as `stepjit train` does. Without: the
  /// forward graph alone.
  std::optional<OptimizerSpec> optimizer;
  /// The output the training step minimizes.
  std::string loss = "loss";
};

struct ModelSummary {
  struct Row {
    std::string name;             ///< the layer (`dense_0`), or the value's name or op
    std::vector<std::string> ops; ///< the ops of its nodes, in order, each once
    TensorType output;            ///< the type of its last node
    int64_t params = 0;           ///< elements of the variables its nodes read first
    int64_t flops = 0;            ///< of its live nodes, per step
    bool is_layer = false;        ///< a name prefix rather than a single node
  };
  struct Variable {
    std::string name;
    TensorType type;
    bool trainable = false;
  };
  std::string graph;
  std::vector<Row> rows;           ///< the inputs, then the layers and ops, in graph order
  std::vector<Variable> variables; ///< of the forward graph, in graph order
  int64_t total_params = 0, trainable_params = 0, non_trainable_params = 0;
  int64_t param_bytes = 0;
  /// A training step was built: `optimizer` and the state it adds (slots, counters).
  bool training = false;
  std::string optimizer;
  int64_t optimizer_params = 0;
  /// Per step, over the live nodes of the step as built (before simplification).
  int64_t forward_flops = 0, backward_flops = 0, update_flops = 0;
  /// The compiled step's scratch arena (simplify, fuse, plan_memory) and its lower bound.
  int64_t arena_bytes = 0, arena_lower_bound_bytes = 0;
};

/// The figures of `forward` (or of its training step, with options.optimizer). Throws sj::Error
/// when the training step cannot be built (no output `loss`, nothing to train).
ModelSummary summarize(const Graph& forward, const SummaryOptions& options = {});

/// The summary as text: a table of rows, one of variables, then the totals.
std::string format_summary(const ModelSummary& summary);

/// format_summary(summarize(forward, options)).
std::string summary(const Graph& forward, const SummaryOptions& options = {});

} // namespace sj

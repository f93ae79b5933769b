// The reference interpreter: runs any graph node by node with each op's table kernel.
// It defines what every op means; compiled code is tested against it. Obviously right over fast.
//
// Step semantics: every read of a variable in one run() sees its value from before the run;
// the assigns take effect together when the run ends (so the order of nodes never matters).
//
// Numerics (graph/ops/kernel_util.h): float ops are computed in double and rounded once to the
// dtype, sums are compensated, integer arithmetic wraps modulo 2^bits.
#pragma once

#include "graph/graph.h"
#include "graph/tensor.h"
#include "runtime/variables.h"

#include <map>
#include <string>
#include <vector>

namespace sj {

class Interpreter {
public:
  /// Takes a copy of the graph and initializes every variable from its `init` attributes.
  explicit Interpreter(Graph graph);

  /// Runs one step: checks that `feeds` holds exactly the graph's inputs with their declared
  /// dtypes and shapes (sj::Error naming the input, expected and given types otherwise; nothing
  /// runs then), evaluates every node, applies the assigns, and returns every graph output by
  /// name. Running out of memory is an sj::Error too (the variables are unchanged then).
  std::map<std::string, Tensor> run(const std::map<std::string, Tensor>& feeds);

  /// A variable's current value, by name (sj::Error if there is no such variable).
  const Tensor& variable(const std::string& name) const;
  /// Replaces a variable's value; the type must match exactly (sj::Error otherwise).
  void set_variable(const std::string& name, Tensor value);
  const Graph& graph() const { return graph_; }
  /// Every variable, for checkpoints (runtime/checkpoint.h).
  Variables& variables() { return variables_; }
  const Variables& variables() const { return variables_; }

private:
  Graph graph_;
  Variables variables_; // after graph_: initialized from it
};

} // namespace sj

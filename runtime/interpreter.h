// The reference interpreter: runs any graph node by node with each op's table kernel.
// It defines what every op means; compiled code is tested against it. Obviously right over fast.
//
// Step semantics: every read of a variable in one run() sees its value from before the run;
// the assigns take effect together when the run ends (so the order of nodes never matters).
// Dead code (what no output or assign needs) is not evaluated, as in compiled steps.
//
// Numerics (graph/ops/kernel_util.h): float ops are computed in double and rounded once to the
// dtype, sums are compensated, integer arithmetic wraps modulo 2^bits.
#pragma once

#include "graph/graph.h"
#include "graph/limits.h"
#include "graph/tensor.h"
#include "runtime/outputs.h"
#include "runtime/variables.h"

#include <map>
#include <string>
#include <vector>

namespace sj {

class Interpreter {
public:
  /// Takes a copy of the graph and initializes every variable from its `init` attributes.
  /// Refuses (sj::Error at the op) a graph over `limits` (graph/limits.h): the same work limits
  /// compiled steps check, and memory against this interpreter's own need (the variables, and
  /// the most values it holds at once: each is freed after its last use).
  explicit Interpreter(Graph graph, const Limits& limits = {});

  /// Runs one step: checks that `feeds` holds exactly the graph's inputs with their declared
  /// dtypes and shapes (sj::Error naming the input, expected and given types otherwise; nothing
  /// runs then), evaluates every node, applies the assigns, and returns every graph output by
  /// name. Running out of memory is an sj::Error too (the variables are unchanged then).
  Outputs run(const std::map<std::string, Tensor>& feeds);

  /// A variable's current value, by name (sj::Error if there is no such variable).
  const Tensor& variable(const std::string& name) const;
  /// Replaces a variable's value; the type must match exactly (sj::Error otherwise).
  void set_variable(const std::string& name, Tensor value);
  const Graph& graph() const { return graph_; }
  /// Tests every floating value computed (feeds included; constants and variables not: a
  /// variable's new value is checked where it is computed) for NaN and infinity after its node:
  /// run() then throws the sj::Error compiled steps throw under CompileOptions::check_numerics (the
  /// first such value in graph order, its first position) and no variable changes. Off by default:
  /// NaN flows through, as IEEE says.
  void set_check_numerics(bool on) { check_numerics_ = on; }
  /// Every variable, for checkpoints (runtime/checkpoint.h).
  Variables& variables() { return variables_; }
  const Variables& variables() const { return variables_; }

private:
  Graph graph_;
  std::vector<bool> live_;        // per value: computed by a step (dead code is skipped)
  std::vector<ValueId> last_use_; // per value: the last node reading it (freed after it)
  Variables variables_;           // after graph_: initialized from it
  bool check_numerics_ = false;
};

} // namespace sj

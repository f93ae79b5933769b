// The persistent variables of a step, by name: initialized from their `init` attributes and
// read and written by host code between steps. Shared by the interpreter and compiled steps.
#pragma once

#include "graph/graph.h"
#include "graph/tensor.h"

#include <map>
#include <string>

namespace sj {

class Variables {
public:
  /// Every variable of `graph`, with its initial value (graph/initializers.h).
  explicit Variables(const Graph& graph);

  /// A variable's value (sj::Error naming the graph's variables if there is no such one).
  const Tensor& get(const std::string& name) const;
  /// Replaces a variable's value; the type must match exactly (sj::Error otherwise).
  void set(const std::string& name, Tensor value);
  /// Direct access for the runtime (the name must exist).
  Tensor& at(const std::string& name) { return values_.at(name); }
  const std::map<std::string, Tensor>& all() const { return values_; }

private:
  std::string graph_name_;
  std::map<std::string, std::string> not_variables_; // other named values: "an input node"
  std::map<std::string, Tensor> values_;
};

/// Turns running out of memory into an sj::Error saying what was being allocated.
[[noreturn]] void out_of_memory(const Location& loc, const std::string& doing);

} // namespace sj

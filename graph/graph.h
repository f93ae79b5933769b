// The IR: a graph of SSA values with static types. Each node defines exactly one value;
// a value is named by the index of its node (ValueId), and operands always refer to earlier
// nodes, so the node order is a valid evaluation order.
#pragma once

#include "graph/attrs.h"
#include "graph/error.h"
#include "graph/op_table.h"
#include "graph/types.h"

#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace sj {

struct Node {
  Op op;
  std::vector<ValueId> operands;
  Attrs attrs; // complete, in the op's schema order
  TensorType type;
  std::string name; // unique in the graph; "" for unnamed values (printed as %0, %1, ...)
  Location loc;     // the user's call (C++) or the text position that made the node

  const OpDef& def() const { return op_def(op); }
};

/// A named result of the graph (`pred`, `loss`): what later stages compute and return.
struct Output {
  std::string name;
  ValueId value;
};

/// How messages name a node: `input 'x'`, or just `add` for an unnamed one.
std::string node_label(const Node& node);
/// A node's op with its article: "a variable", "an input".
std::string op_with_article(const Node& node);

/// True for names the text form can spell: `[A-Za-z_][A-Za-z0-9_./]*`.
bool is_valid_name(std::string_view name);

class Graph;
/// How messages name a value: `'w'`, or `%7 (an unnamed add)`.
std::string value_label(const Graph& graph, ValueId v);

class Graph {
public:
  explicit Graph(std::string name = "main");

  const std::string& name() const { return name_; }

  /// Appends a node after checking its operands, attributes and types against the op table.
  /// Throws sj::Error (naming the op, the operand types and `loc`) when the node is ill-formed;
  /// the graph is unchanged then. `declared` is the written type of a source node.
  ValueId add(Op op, std::vector<ValueId> operands, const Attrs& attrs, Location loc,
              std::string name = {}, const TensorType* declared = nullptr);

  const Node& node(ValueId v) const { return nodes_.at(v); }
  const std::vector<Node>& nodes() const { return nodes_; }
  size_t size() const { return nodes_.size(); }
  const TensorType& type(ValueId v) const { return node(v).type; }

  /// Names a value (it must be unnamed, the name valid and unused): `%pred` instead of `%4`.
  void set_name(ValueId value, std::string name, const Location& loc = {});

  /// Marks `value` as the graph output `name` (unique among outputs).
  void add_output(std::string name, ValueId value, const Location& loc = {});
  const std::vector<Output>& outputs() const { return outputs_; }
  std::optional<ValueId> output(std::string_view name) const;

  /// The value whose node has this name.
  std::optional<ValueId> find(std::string_view name) const;
  /// All nodes of one op, in order (e.g. every input or every variable).
  std::vector<ValueId> nodes_of(Op op) const;

private:
  std::string name_;
  std::vector<Node> nodes_;
  std::vector<Output> outputs_;
  std::unordered_map<std::string, ValueId> by_name_;
};

} // namespace sj

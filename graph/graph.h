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

/// The most operands one node may have (a variadic concat): keeps a node's checks and messages
/// small whatever the input.
inline constexpr size_t kMaxOperands = size_t{1} << 16;

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

  /// While an AttributeTo on this graph is alive, the nodes added are attributed to its
  /// location, and errors in adding them name its context (see AttributeTo).
  const struct Attribution* attribution() const { return attribution_; }

  /// Per value: whether a step computes it. The outputs, the effects (assigns), the inputs and
  /// the variables are live, and so is every operand of a live value; the rest is dead code,
  /// which neither engine evaluates (so a dead gather cannot fail).
  std::vector<bool> live_values() const;

private:
  ValueId add_checked(Op op, std::vector<ValueId> operands, const Attrs& attrs, Location loc,
                      std::string name, const TensorType* declared);

  std::string name_;
  std::vector<Node> nodes_;
  std::vector<Output> outputs_;
  std::unordered_map<std::string, ValueId> by_name_;
  const struct Attribution* attribution_ = nullptr;
  friend class AttributeTo;
};

/// What nodes added on behalf of another node are attributed to.
struct Attribution {
  Location loc;        // the user's line of the node they are made for
  std::string context; // "the gradient of gather": prefixed to errors in adding them
};

/// Attributes every node added to `graph` during its lifetime to `loc`, the user's line, instead
/// of the line of the code adding it: a gradient rule's nodes point at the forward op they
/// differentiate (model.cpp:12), never at stepjit's own source. Errors thrown while adding them
/// read `model.cpp:12: error: in the gradient of gather: ...`. Scopes nest; the innermost wins.
class AttributeTo {
public:
  AttributeTo(Graph& graph, Location loc, std::string context);
  ~AttributeTo();
  AttributeTo(const AttributeTo&) = delete;
  AttributeTo& operator=(const AttributeTo&) = delete;

private:
  Graph& graph_;
  Attribution attribution_;
  const Attribution* outer_;
};

} // namespace sj

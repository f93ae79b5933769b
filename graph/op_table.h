// The op table: one OpDef per op, the single place every stage looks an op up.
//
// An OpDef holds the op's name, arity, attribute schema, shape/dtype rule, interpreter kernel
// and gradient rule (the LLVM lowering will be a further field). The
// entries live in graph/ops/<family>.cpp; graph/ops.def lists them.
#pragma once

#include "graph/attrs.h"
#include "graph/error.h"
#include "graph/tensor.h"
#include "graph/types.h"

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace sj {

enum class Op : uint16_t {
#define SJ_OP(name, family) name,
#include "graph/ops.def"
#undef SJ_OP
};

inline constexpr Op kAllOps[] = {
#define SJ_OP(name, family) Op::name,
#include "graph/ops.def"
#undef SJ_OP
};
inline constexpr size_t kNumOps = std::size(kAllOps);

class Graph;
struct Node;
using ValueId = uint32_t;
struct OpDef;

/// What a shape rule sees: the op, its operands, their types, the attributes (complete and
/// checked against the schema), the declared type of a source node, and the user's call site.
struct OpCall {
  const OpDef& def;
  const Graph& graph;
  std::span<const ValueId> operands;
  std::span<const TensorType> types;
  const Attrs& attrs;
  const TensorType* declared; // the written type of input/variable/constant, else nullptr
  const Location& loc;

  /// Throws sj::Error at the call site: `op(f32[2,3], f32[4]): <message>`.
  [[noreturn]] void fail(const std::string& message) const;
  /// `matmul(f32[32,100], f32[10,100])`: the op applied to its operand types.
  std::string signature() const;
};

/// The interpreter's state, as kernels of source and state ops see it.
class EvalState {
public:
  virtual ~EvalState() = default;
  virtual const Tensor& feed(const Node& input) = 0;
  virtual const Tensor& variable(const Node& variable) = 0;
  /// Records the new value of a variable; it takes effect when the step ends.
  virtual void assign(const Node& variable, const Tensor& value) = 0;
};

/// What an interpreter kernel sees: the node, its operands' values, the interpreter state.
struct EvalCall {
  const Graph& graph;
  const Node& node;
  std::span<const Tensor* const> args;
  EvalState& state;

  const Attrs& attrs() const;
  const TensorType& type() const;
  /// Throws sj::Error at the node's location.
  [[noreturn]] void fail(const std::string& message) const;
  /// The op's run-time error (OpDef::explain) for `value` at `position`.
  [[noreturn]] void fail_at_run_time(int64_t value, int64_t position) const;
};

struct GradCall; // graph/gradient.h
struct Work;     // graph/limits.h

using InferFn = TensorType (*)(const OpCall&);
using EvalFn = Tensor (*)(const EvalCall&);
/// A gradient (vector-Jacobian product) rule: emits ordinary ops computing the gradient of each
/// wanted operand from the gradient of the result (see graph/gradient.h).
using GradFn = void (*)(GradCall&);
/// What a node costs, for the resource limits (graph/limits.h).
using WorkFn = Work (*)(const Graph&, const Node&);
/// The floating-point operations of one evaluation of a node, for summaries (graph/limits.h).
using FlopsFn = int64_t (*)(const Graph&, const Node&);
/// The cause of a run-time error of a node (an index out of range): the offending `value` at
/// linear `position` of the operand it was read from. Both engines report it through
/// fail_at_run_time, so the interpreter and compiled steps fail with the same message.
using ExplainFn = std::string (*)(const Graph&, const Node&, int64_t value, int64_t position);

/// One attribute of an op: its name, kind, default (nullopt: required) and, for names, the
/// identifiers allowed.
struct AttrSpec {
  std::string_view name;
  AttrKind kind;
  std::optional<AttrValue> default_value;
  std::vector<std::string_view> choices = {};
  /// A name attribute that may be written as a list of integer pairs instead (conv2d's
  /// `padding = [[top, bottom], [left, right]]`): the text form stores the pairs, flattened,
  /// in the ints attribute `list_into` and the choice `list_choice` here, and prints them back
  /// the same way.
  std::string_view list_into = {};
  std::string_view list_choice = {};
};

inline constexpr int kVariadic = -1;

/// How an op's loop can be fused (passes/fuse.h), by the shape of its computation.
enum class Fusion : uint8_t {
  none,        ///< writes its result as a whole (matmul, softmax, concat, sources, assign)
  elementwise, ///< result[i] from operand elements at the same (broadcast) position
  index_map,   ///< result[i] is an operand element at a computed position (layout, gather)
  reduction,   ///< reads each operand element once, folding into fewer results
};

/// One row of the op table.
struct OpDef {
  Op op;
  std::string_view name;
  int num_operands;                            // kVariadic: one or more
  std::vector<std::string_view> operand_names; // for messages and docs; variadic: one name
  std::vector<AttrSpec> attrs;
  InferFn infer;         // shape and dtype rule; throws sj::Error through OpCall::fail
  EvalFn eval;           // reference interpreter kernel
  GradFn grad = nullptr; // gradient rule; nullptr: no gradient flows through this op
  Fusion fusion = Fusion::none;
  bool declares_type = false; // input/variable/constant: the result type is written
  bool has_effect = false;    // assign: kept even when its result is unused
  std::string_view summary = {};
  /// Set when the op may report a run-time error in a step (an index out of range).
  ExplainFn explain = nullptr;
  WorkFn work = nullptr; // nullptr: default_work (graph/limits.h), the elements it visits
  /// nullptr: default_flops (graph/limits.h): 2 per multiply-add `work` counts, else one per
  /// element visited, and none for sources and index_map ops; no_flops for other data movement.
  FlopsFn flops = nullptr;

  bool can_fail() const { return explain != nullptr; }
};

/// Throws the run-time error of `node` (an sj::Error at its line): `gather 'emb': index 7 at
/// position [1] of the indices is out of range ...; no variable was updated`. When several
/// nodes fail in one step, both engines report the first in graph order, and within it the
/// first position.
[[noreturn]] void fail_at_run_time(const Graph& graph, const Node& node, int64_t value,
                                   int64_t position);

const OpDef& op_def(Op op);
inline std::string_view op_name(Op op) { return op_def(op).name; }
/// The op with this text name, or nullptr.
const OpDef* find_op(std::string_view name);

/// `matmul(f32[32,100], f32[10,100])`: an op applied to operand types (the first few of many).
std::string op_signature(std::string_view op, std::span<const TensorType> types);

/// Checks `given` against the op's schema: unknown names, wrong kinds and bad choices are
/// errors; missing attributes take their defaults; the result follows the schema's order.
Attrs normalize_attrs(const OpDef& def, const Attrs& given, const Location& loc);

} // namespace sj

// What an op's LLVM lowering rule sees. Rules live in codegen/ops/<family>.cpp, one per op,
// collected into a table by graph/ops.def (codegen/ops/table.cpp), like the op table itself.
//
// Two kinds of rule:
// - `element`: the op computes each result element from operand elements (elementwise math,
//   and data movement expressed as an index map: transpose, reshape, broadcast_to, slice,
//   one_hot, gather). The driver emits the loop nest, and fuses: an operand that the fusion plan
//   inlines is computed in place instead of loaded, so it never reaches memory.
// - `lower`: the op writes its whole result buffer itself (reductions, matmul, softmax, ...).
#pragma once

#include "graph/graph.h"

#include <functional>
#include <llvm/IR/IRBuilder.h>
#include <llvm/IR/Module.h>
#include <vector>

namespace sj {

struct FusionPlan;
struct MemoryPlan;

/// A position in a tensor of shape `shape`: per-dimension indices and/or the row-major linear
/// index, each computed from the other on demand (with IR instructions).
class Index {
public:
  static Index flat(Shape shape, llvm::Value* linear) {
    return Index(std::move(shape), {}, linear);
  }
  static Index dims(Shape shape, std::vector<llvm::Value*> dims) {
    return Index(std::move(shape), std::move(dims), nullptr);
  }
  /// Both forms known (they must agree).
  static Index both(Shape shape, std::vector<llvm::Value*> dims, llvm::Value* linear) {
    return Index(std::move(shape), std::move(dims), linear);
  }
  const Shape& shape() const { return shape_; }
  llvm::Value* linear(llvm::IRBuilder<>& b);
  const std::vector<llvm::Value*>& dims(llvm::IRBuilder<>& b);

private:
  Index(Shape shape, std::vector<llvm::Value*> dims, llvm::Value* linear)
      : shape_(std::move(shape)), dims_(std::move(dims)), linear_(linear) {}
  Shape shape_;
  std::vector<llvm::Value*> dims_; // empty until known (for rank > 0)
  llvm::Value* linear_;
};

class Lowerer;

/// What an element rule sees: the node, the builder, and its operands' elements on demand.
struct ElementCall {
  Lowerer& lowerer;
  const Node& node;
  ValueId id;
  Index& index; // the result element being computed

  llvm::IRBuilder<>& b() const;
  /// Operand i's element at the broadcast position matching `index` (NumPy rules).
  llvm::Value* operand(size_t i) const;
  /// Operand i's element at an explicit position in operand i's shape.
  llvm::Value* operand_at(size_t i, Index& at) const;
  const Attrs& attrs() const { return node.attrs; }
  DType dtype() const { return node.type.dtype; }
  DType operand_dtype(size_t i) const;
  llvm::Type* type(DType t) const;
};

/// What a whole-buffer rule sees.
struct LowerCall {
  Lowerer& lowerer;
  const Node& node;
  ValueId id;

  llvm::IRBuilder<>& b() const;
  /// The result buffer (typed pointer to its first element).
  llvm::Value* result() const;
  /// Operand i's element at a position in operand i's shape (loaded, or computed if fused).
  llvm::Value* operand_at(size_t i, Index& at) const;
  /// Emits `for (i = 0; i < n; ++i) body(i)`; returns after the loop.
  void loop(llvm::Value* n, const std::function<void(llvm::Value*)>& body) const;
  void loop(int64_t n, const std::function<void(llvm::Value*)>& body) const;
  /// Emits `for (i = 0; i < rows; ++i) body(i)`, split over the step's thread pool when the
  /// node is large (Lowerer::parallel_rows): each row must write its own part of the result
  /// only, and create the stack slots it uses inside body (the rows may run in an outlined
  /// function).
  void parallel_rows(int64_t rows, const std::function<void(llvm::Value*)>& body) const;
  /// Loops over every position of `shape` (row-major) and calls body with its Index.
  void for_each(const Shape& shape, const std::function<void(Index&)>& body) const;
  llvm::Type* type(DType t) const;
  llvm::Value* i64(int64_t v) const;
  /// A run-time error (OpDef::explain): records the offending `value` and its linear
  /// `position` for the runtime, which throws sj::Error after the step (fail_at_run_time); the
  /// step then stores no variable and no output.
  void error_if(llvm::Value* condition, llvm::Value* value, llvm::Value* position) const;
  const Attrs& attrs() const { return node.attrs; }
};

using ElementRule = llvm::Value* (*)(const ElementCall&);
using LowerRule = void (*)(const LowerCall&);

/// One row of the lowering table.
struct Lowering {
  ElementRule element = nullptr;
  LowerRule lower = nullptr;
  /// An op that can fail (OpDef::explain) with an element rule validates its operands here,
  /// emitted once before the loop that computes it (its own, or the one it is fused into), so
  /// every bad index is found whatever part of the result is read; its element rule then
  /// reads safely clamped positions and records nothing.
  LowerRule check = nullptr;
  bool source = false; // input, variable, constant, assign: storage handled by the driver
};

const Lowering& lowering_of(Op op);

} // namespace sj

// The lowering driver's state, shared by the rules in codegen/ops/ (see lowering.h).
#pragma once

#include "codegen/lowering.h"
#include "passes/fuse.h"
#include "passes/plan_memory.h"

#include <llvm/IR/IRBuilder.h>
#include <map>

namespace sj {

class Lowerer {
public:
  /// `check_numerics`: every floating value computed (and every feed and variable read) is
  /// tested for NaN and infinity (see lower_to_llvm).
  Lowerer(const Graph& graph, const FusionPlan& fusion, const MemoryPlan& memory,
          llvm::Module& module, bool check_numerics = false);

  /// Emits the entry function.
  void run();

  llvm::IRBuilder<>& b() { return b_; }
  llvm::LLVMContext& context() { return module_.getContext(); }
  llvm::Module& module() { return module_; }
  const Graph& graph() const { return graph_; }

  /// The LLVM type of a dtype's elements in registers (bool is i1) and in memory (bool is i8).
  llvm::Type* reg_type(DType t);
  llvm::Type* mem_type(DType t);
  llvm::Value* i64(int64_t v) { return b_.getInt64(v); }

  /// Pointer to the first element of a stored value (its address computed in the entry block of
  /// the function being emitted on first use).
  llvm::Value* buffer(ValueId v);
  /// Value v's element at `at` (in v's shape): loaded, or computed if v is fused into its user.
  llvm::Value* element(ValueId v, Index& at);
  /// Stores `value` (register type) as element `linear` of value v's buffer.
  void store(ValueId v, llvm::Value* linear, llvm::Value* value);

  /// for (i = begin; i < end; ++i) body(i)
  void loop(llvm::Value* begin, llvm::Value* end, const std::function<void(llvm::Value*)>& body);
  /// Every position of `shape`, row-major: one flat loop when `flat`, else one loop per dim.
  void for_each(const Shape& shape, bool flat, const std::function<void(Index&)>& body);
  /// Records a run-time error of `node` when `condition` holds, unless an earlier node (in
  /// graph order) has recorded one: the interpreter, which runs nodes in order, fails there.
  /// Within a node, loops run positions in order, so its first bad position is kept.
  void error_if(llvm::Value* condition, ValueId node, llvm::Value* value, llvm::Value* position);
  /// Under check_numerics, notes element `at` (of v's shape) of floating value v just computed:
  /// x - x summed into the function's non-finite flag (a vectorizable reduction; sync() tests it
  /// after the node), or, while sync() locates the culprit, recorded as the run-time error of v
  /// at that position if it is NaN or infinite. Nothing otherwise.
  void note(ValueId v, llvm::Value* x, Index& at);
  /// A stack slot in the entry block (promoted to a register by LLVM): loop-carried values.
  llvm::Value* slot(llvm::Type* type);
  /// a + b for an accumulator: floats may be reassociated (so the loop vectorizes; the result
  /// is deterministic for a given machine), integers wrap.
  llvm::Value* accumulate(llvm::Value* a, llvm::Value* b);
  /// The step's thread pool argument (a sj::ThreadPool*, or null): for calls into sj_kernels.
  llvm::Value* pool() { return pool_; }
  /// A declared C math function (e.g. "erf" or "erff").
  llvm::FunctionCallee math(const std::string& name, llvm::Type* type, int arity = 1);

  /// For an f32 matmul `c` whose loop fuse() made its epilogue: the outlined
  /// `void(ctx, m0, m1, n0, n1)` computing the loop's members on a block of c, and its ctx
  /// (kernels/gemm.h SjGemmArgs::epilogue); two null pointers otherwise.
  std::pair<llvm::Value*, llvm::Value*> gemm_epilogue(ValueId c);

  /// for (i = 0; i < rows; ++i) body(i), where each row computes its own part of the values
  /// first..last (a loop nest's first dimension, the images of a pooling op): inline, or, when
  /// they have kParallelElements elements or more, outlined and split over the pool as
  /// flat_loop is. Each element is computed by one thread exactly as inline, so the bits do not
  /// depend on the thread count.
  void parallel_rows(ValueId first, ValueId last, int64_t rows,
                     const std::function<void(llvm::Value*)>& body);

private:
  void lower_node(ValueId v);
  void lower_node_here(ValueId v);
  /// "add+relu.v5": the ops a loop (group) first..last stores, for function names.
  std::string label(ValueId first, ValueId last) const;
  /// Elements (of a node's result or operands) from which its code gets a function of its own.
  static constexpr int64_t kOwnFunctionElements = 1 << 12;
  void lower_loop_group(ValueId first);
  /// The members of the loop (group) starting at `first`, at one position of their shape.
  void compute_members(ValueId first, const Index& position);
  /// The stored values a loop (group) reads or writes.
  std::vector<ValueId> loop_buffers(ValueId first, ValueId last);
  /// The check rules (Lowering::check) of the ops computed in the loop of values first..last.
  void emit_checks(ValueId first, ValueId last);
  /// Emits emit(index args) as the body of a new function `void name(ctx, i64 index...)` whose
  /// ctx (filled here, in the step) holds the addresses of `used`'s buffers and the status word;
  /// returns the function and ctx.
  std::pair<llvm::Function*, llvm::Value*>
  outline(const std::string& name, const std::vector<ValueId>& used, int index_args,
          const std::function<void(const std::vector<llvm::Value*>&)>& emit);
  /// for (i = 0; i < n; ++i) body(i), the flat loop computing values first..last (a loop group,
  /// or one value): inline, or, when n >= kParallelElements, outlined into a function the step's
  /// thread pool runs in chunks (sj_parallel_for).
  void flat_loop(ValueId first, ValueId last, int64_t n,
                 const std::function<void(llvm::Value*)>& body);
  /// Elements from which a flat loop is split over the pool: below, waking threads costs more
  /// than it saves.
  static constexpr int64_t kParallelElements = 1 << 15;
  /// Emits body() under `if (no run-time error yet)` when values first..last include one written
  /// in place into a variable (Storage::in_place); else just body().
  void unless_failed(ValueId first, ValueId last, const std::function<void()>& body);
  void commit();
  /// Records run-time error `code` (status[0]: 1 an op's explain, 2 a non-finite value) of
  /// `node` when `condition` holds, keeping the first node in graph order (see error_if).
  void record(int64_t code, llvm::Value* condition, ValueId node, llvm::Value* value,
              llvm::Value* position);
  /// check_numerics: the current function's flag (an f32 slot, 0 on entry, NaN once a
  /// non-finite element was noted) that note() sums into.
  llvm::Value* nonfinite_flag();
  /// check_numerics: notes every element of stored value v (a kernel's or whole-buffer rule's
  /// result, a feed, a variable) in a loop over its buffer.
  void scan(ValueId v);
  /// check_numerics, after the code of a node (group): if a non-finite element was noted (in
  /// this function's flag or, by outlined loops, in status[4]), clears the flags and runs
  /// `locate`, which re-emits the computation scalar and inline with note() recording, so the
  /// first bad value (in graph order) and its first position become the step's error.
  void sync(const std::function<void()>& locate);
  /// Whether an operand of v is computed inside v's code (fused into it).
  bool has_inlined_operand(ValueId v) const;
  /// Makes `f` (the step or one of its parts: the step's signature) the function being emitted:
  /// begin_function also creates its entry block, for allocas and buffer addresses.
  void begin_function(llvm::Function* f);
  void enter(llvm::Function* f);
  /// The global holding constant v's data (one per module).
  llvm::Value* constant_data(ValueId v);
  /// Live nodes per function when a large step is split (see run()).
  static constexpr int kNodesPerFunction = 2048;

  const Graph& graph_;
  const FusionPlan& fusion_;
  const MemoryPlan& memory_;
  llvm::Module& module_;
  llvm::IRBuilder<> b_;
  llvm::Function* fn_ = nullptr;
  llvm::Function* step_fn_ = nullptr;        // fn_ outside outlined loops
  std::vector<std::vector<ValueId>> checks_; // per root: the failing ops its loop computes
  llvm::Value *inputs_ = nullptr, *variables_ = nullptr, *outputs_ = nullptr, *arena_ = nullptr,
              *status_ = nullptr, *pool_ = nullptr;
  std::vector<int> slot_;                 // per value: its position among inputs or variables
  std::vector<llvm::Value*> buffers_;     // per value: its address in fn_, once computed
  std::vector<llvm::Value*> globals_;     // per constant: its data
  llvm::BasicBlock* addresses_ = nullptr; // fn_'s entry block, where addresses are computed
  bool outlining_ = false;                // inside outline(): every buffer is a parameter
  bool check_numerics_ = false;
  bool locating_ = false; // inside sync()'s locate: note() records, loops are not outlined
  std::map<llvm::Function*, llvm::Value*> nonfinite_flags_;
  // The block before the outermost loop being emitted, per function (innermost function last),
  // and the scalars element() loaded there.
  std::vector<std::pair<llvm::Function*, llvm::BasicBlock*>> preheaders_;
  std::map<std::pair<llvm::BasicBlock*, ValueId>, llvm::Value*> hoisted_;
  // Inside a loop group: the elements its members computed in this iteration, at `in_loop_`.
  llvm::Value* in_loop_ = nullptr;
  std::map<ValueId, llvm::Value*> computed_;
};

} // namespace sj

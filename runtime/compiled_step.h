// A training step (or any graph) compiled to one native function, with the state it runs on.
//
//   auto step = sj::CompiledStep::compile(graph);
//   for (...) {
//     const auto& out = step.run({{"x", x}, {"y", y}});  // checks feeds, calls native code
//     float loss = out.at("loss").data<float>()[0];
//   }
//
// Thread safety: compile() may be called from several threads (the code cache is locked).
// One CompiledStep is not thread-safe: run(), variable() and set_variable() must not overlap on
// the same object. Different CompiledSteps, even of the same graph, share only read-only code
// and may run concurrently.
#pragma once

#include "graph/graph.h"
#include "graph/limits.h"
#include "graph/tensor.h"
#include "runtime/outputs.h"
#include "runtime/tensor_view.h"
#include "runtime/variables.h"

#include <concepts>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace sj {

struct CompiledCode; // the code of a graph, shared by its steps and the cache
class ThreadPool;

/// One stage of a compilation as text, for dumps: `03-simplified.sj`, ..., `08-step.s`.
struct StageText {
  std::string stage; // simplified, fused, memory, llvm, llvm-opt, asm
  std::string file;  // the file name --dump-dir writes
  std::string text;
};

struct CompileOptions {
  bool simplify = true;  ///< run passes/simplify first
  bool use_cache = true; ///< reuse the code of a live step compiled from the same graph
  /// Run on these variables instead of fresh ones: e.g. an inference graph (`predict`) sharing
  /// the trained variables of a training step, without copying. Every variable of the graph
  /// must exist there with the same type.
  std::shared_ptr<Variables> share_variables = nullptr;
  std::vector<StageText>* stages = nullptr; ///< if set, receives the text of every stage
  /// Threads the step's GEMMs split their work over, the calling thread included (1: no other
  /// thread is started). Each output element is computed on one thread in a fixed order, so
  /// results are bit-identical for every thread count. Idle threads sleep between steps.
  int threads = 1;
  /// A pool to run on instead, shared with other steps (they must not run concurrently): no
  /// oversubscription when several steps of one program train or predict in turn.
  std::shared_ptr<ThreadPool> pool = nullptr;
  /// Run with denormal floats flushed to zero (inputs and results; x86-64 FTZ and DAZ), as
  /// TensorFlow does on CPUs: denormal arithmetic is several times slower, and values of a
  /// model trained long on one batch sink into that range. The caller's mode is restored after
  /// each step. False gives IEEE gradual underflow, as the interpreter computes.
  bool flush_denormals = true;
  /// The work and memory the graph may demand (graph/limits.h): a graph over them is refused
  /// at compile time with an sj::Error at the op, as the interpreter refuses it.
  Limits limits = {};
  /// Test every floating value the step computes (and its feeds; variables as their new values
  /// are computed) for NaN and infinity, in the loops that compute them: run() then throws an
  /// sj::Error naming the first value in graph order that is not finite (its op, name, line,
  /// position and, for a per-row value, the batch row), and the step changes no variable and no
  /// output. Costs a compare per element and the in-place updates (every assigned value is copied
  /// at the end instead).
  bool check_numerics = false;
};

class CompiledStep {
public:
  /// Runs the pipeline (simplify, fuse, plan_memory, lower_to_llvm, O2, JIT) on `graph`.
  /// Variables start from their initializers. The same graph compiled again while a step of it
  /// is alive reuses its native code.
  static CompiledStep compile(const Graph& graph, const CompileOptions& options = {});

  /// Checks every feed's name, dtype and shape (sj::Error, nothing run or written, on a
  /// mismatch), runs the step, and returns the outputs by name. The returned map lives in this
  /// object until the next run: a step allocates nothing. A run-time error (an index out of
  /// range, or a NaN under check_numerics) is an sj::Error naming the op and the value; the
  /// variables are unchanged then.
  const Outputs& run(const std::map<std::string, TensorView>& feeds);
  /// The same for a map of owned tensors (viewed, not copied). A template only so that a
  /// braced list `run({{"x", t}})` picks the overload above.
  template <typename Feeds>
  requires std::same_as<Feeds, std::map<std::string, Tensor>>
  const Outputs& run(const Feeds& feeds) { return run_tensors(feeds); }

  const Tensor& variable(const std::string& name) const { return variables_->get(name); }
  void set_variable(const std::string& name, Tensor value) {
    variables_->set(name, std::move(value));
  }
  const Graph& graph() const { return *graph_; }
  /// Every variable, for checkpoints (runtime/checkpoint.h).
  Variables& variables() { return *variables_; }
  const Variables& variables() const { return *variables_; }
  /// The variables, to share with another compiled graph (CompileOptions::share_variables).
  /// Steps that share variables must not run concurrently.
  std::shared_ptr<Variables> shared_variables() const { return variables_; }

  /// Figures of the compilation.
  double compile_ms() const { return compile_ms_; }
  int64_t arena_bytes() const { return arena_bytes_; }
  int64_t arena_lower_bound_bytes() const { return arena_lower_bound_bytes_; }
  bool reused_code() const { return reused_; }

private:
  CompiledStep(std::shared_ptr<const Graph> graph, std::shared_ptr<Variables> variables)
      : graph_(std::move(graph)), variables_(std::move(variables)) {}
  [[noreturn]] void report(const int64_t* status) const;
  const Outputs& run_tensors(const std::map<std::string, Tensor>& feeds);

  std::shared_ptr<const Graph> graph_; // the compiled (simplified) graph
  std::shared_ptr<Variables> variables_;
  std::shared_ptr<const CompiledCode> code_;
  void (*fn_)(void* const*, void* const*, void* const*, char*, int64_t*, void*) = nullptr;
  std::shared_ptr<ThreadPool> pool_;
  bool flush_denormals_ = true;
  std::vector<std::byte> arena_storage_;
  char* arena_ = nullptr;
  std::vector<std::string> input_names_, variable_names_;
  std::vector<int64_t> input_bytes_, variable_bytes_; // sizes, for the feed overlap check
  std::vector<Tensor*> variable_tensors_;             // in variables_, in graph order
  Outputs outputs_;
  std::vector<void*> input_ptrs_, variable_ptrs_, output_ptrs_;
  double compile_ms_ = 0;
  int64_t arena_bytes_ = 0, arena_lower_bound_bytes_ = 0;
  bool reused_ = false;
};

} // namespace sj

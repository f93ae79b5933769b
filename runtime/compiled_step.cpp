#include "runtime/compiled_step.h"

#include "codegen/jit.h"
#include "codegen/lower_to_llvm.h"
#include "codegen/lowering.h"
#include "graph/print.h"
#include "kernels/thread_pool.h"
#include "passes/fuse.h"
#include "passes/plan_memory.h"
#include "passes/simplify.h"
#include "runtime/feeds.h"

#include <chrono>
#include <fmt/format.h>
#include <mutex>

namespace sj {

namespace {

using StepFn = void (*)(void* const*, void* const*, void* const*, char*, int64_t*, void*);

// Compiled code by graph text: the same graph compiled twice in a process compiles once.
struct Compiled {
  std::shared_ptr<const Graph> graph;
  std::shared_ptr<JitCode> code;
  StepFn fn;
  int64_t arena_bytes, lower_bound_bytes;
};
std::mutex cache_mutex;
std::map<std::string, std::shared_ptr<Compiled>>& cache() {
  static std::map<std::string, std::shared_ptr<Compiled>> entries;
  return entries;
}

std::string simplify_report(const SimplifyStats& stats) {
  std::string s;
  for (const auto& [rule, count] : stats)
    if (count) s += fmt::format("# simplify: {} removed {}\n", rule, count);
  return s;
}

std::shared_ptr<Compiled> build(const Graph& input, const CompileOptions& options) {
  auto add = [&](const char* stage, const char* file, std::string text) {
    if (options.stages) options.stages->push_back({stage, file, std::move(text)});
  };
  SimplifyStats stats;
  auto graph = std::make_shared<const Graph>(options.simplify ? simplify(input, &stats) : input);
  if (options.simplify)
    add("simplified", "03-simplified.sj", print(*graph) + simplify_report(stats));
  FusionPlan fusion = fuse(*graph);
  add("fused", "04-fused.txt", print_fusion(*graph, fusion));
  MemoryPlan memory = plan_memory(*graph, fusion);
  add("memory", "05-memory.txt", print_memory(*graph, memory));
  auto context = std::make_unique<llvm::LLVMContext>();
  auto module = lower_to_llvm(*graph, fusion, memory, *context);
  JitDumps dumps{.want = options.stages != nullptr};
  auto code = jit_compile(std::move(module), std::move(context), &dumps);
  if (options.stages) {
    add("llvm", "06-step.ll", std::move(dumps.llvm));
    add("llvm-opt", "07-step-opt.ll", std::move(dumps.llvm_opt));
    add("asm", "08-step.s", std::move(dumps.assembly));
  }
  auto fn = reinterpret_cast<StepFn>(code->lookup(kStepFunction));
  return std::make_shared<Compiled>(
      Compiled{graph, code, fn, memory.arena_bytes, memory.lower_bound_bytes});
}

} // namespace

namespace {

// Flush-to-zero and denormals-are-zero for the duration of a step (x86-64's MXCSR FTZ and DAZ
// bits), restoring the caller's mode after: denormal arithmetic is several times slower, and a
// model trained long on one batch sinks into it. The pool's workers take the caller's mode.
class FloatMode {
public:
  explicit FloatMode(bool flush) {
#if defined(__x86_64__)
    if (!flush) return;
    saved_ = __builtin_ia32_stmxcsr();
    __builtin_ia32_ldmxcsr(saved_ | kFlushToZero | kDenormalsAreZero);
    set_ = true;
#else
    (void)flush;
#endif
  }
  ~FloatMode() {
#if defined(__x86_64__)
    if (set_) __builtin_ia32_ldmxcsr(saved_);
#endif
  }
  FloatMode(const FloatMode&) = delete;
  FloatMode& operator=(const FloatMode&) = delete;

private:
  static constexpr unsigned kFlushToZero = 1u << 15, kDenormalsAreZero = 1u << 6;
  unsigned saved_ = 0;
  bool set_ = false;
};

} // namespace

CompiledStep CompiledStep::compile(const Graph& graph, const CompileOptions& options) {
  auto start = std::chrono::steady_clock::now();
  std::shared_ptr<Compiled> compiled;
  bool reused = false;
  std::string key = print(graph) + (options.simplify ? "" : "#nosimplify");
  if (!options.stages && options.use_cache) {
    std::lock_guard lock(cache_mutex);
    if (auto it = cache().find(key); it != cache().end()) {
      compiled = it->second;
      reused = true;
    }
  }
  if (!compiled) {
    compiled = build(graph, options);
    std::lock_guard lock(cache_mutex);
    cache().emplace(key, compiled);
  }

  std::shared_ptr<Variables> variables = options.share_variables;
  if (variables) {
    // Every variable of this graph must be there, with its type.
    for (ValueId v : compiled->graph->nodes_of(Op::variable)) {
      const Node& n = compiled->graph->node(v);
      const Tensor& shared = variables->get(n.name); // sj::Error naming the store's variables
      if (shared.type() != n.type)
        throw Error(n.loc, fmt::format("share_variables: variable '{}' is {} in the shared "
                                       "variables but {} in graph '{}'",
                                       n.name, shared.type().str(), n.type.str(),
                                       compiled->graph->name()));
    }
  } else {
    variables = std::make_shared<Variables>(*compiled->graph);
  }
  CompiledStep step(compiled->graph, std::move(variables));
  step.code_ = compiled->code;
  step.fn_ = compiled->fn;
  step.pool_ = options.pool          ? options.pool
               : options.threads > 1 ? std::make_shared<ThreadPool>(options.threads)
                                     : nullptr;
  step.flush_denormals_ = options.flush_denormals;
  step.reused_ = reused;
  step.arena_bytes_ = compiled->arena_bytes;
  step.arena_lower_bound_bytes_ = compiled->lower_bound_bytes;
  // The arena, 64-byte aligned inside a byte vector.
  step.arena_storage_.resize(size_t(compiled->arena_bytes) + 64);
  auto base = reinterpret_cast<uintptr_t>(step.arena_storage_.data());
  step.arena_ = reinterpret_cast<char*>((base + 63) & ~uintptr_t(63));
  const Graph& g = *compiled->graph;
  for (ValueId v : g.nodes_of(Op::input)) {
    step.input_names_.push_back(g.node(v).name);
    step.input_bytes_.push_back(int64_t(g.type(v).byte_size()));
  }
  for (ValueId v : g.nodes_of(Op::variable)) {
    step.variable_names_.push_back(g.node(v).name);
    step.variable_bytes_.push_back(int64_t(g.type(v).byte_size()));
    step.variable_tensors_.push_back(&step.variables_->at(g.node(v).name));
  }
  step.variable_ptrs_.resize(step.variable_tensors_.size());
  for (const Output& o : g.outputs()) {
    Tensor& t = step.outputs_.emplace(o.name, Tensor(g.type(o.value))).first->second;
    step.output_ptrs_.push_back(t.bytes().data());
  }
  step.input_ptrs_.resize(step.input_names_.size());
  step.compile_ms_ =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  return step;
}

const std::map<std::string, Tensor>&
CompiledStep::run_tensors(const std::map<std::string, Tensor>& feeds) {
  check_feeds(*graph_, feeds); // before building views: errors name the tensors' types
  std::map<std::string, TensorView> views;
  for (const auto& [name, t] : feeds)
    views.emplace(name, TensorView(t));
  return run(views);
}

const std::map<std::string, Tensor>&
CompiledStep::run(const std::map<std::string, TensorView>& feeds) {
  check_feeds(*graph_, feeds);
  for (size_t i = 0; i < input_names_.size(); ++i)
    input_ptrs_[i] = const_cast<void*>(feeds.at(input_names_[i]).data());
  // The tensors' addresses are stable (map nodes); their data may have been replaced (set).
  for (size_t j = 0; j < variable_tensors_.size(); ++j)
    variable_ptrs_[j] = variable_tensors_[j]->bytes().data();
  // The step writes variables while it reads feeds (in place, assuming they do not overlap):
  // a feed viewing a variable's memory (e.g. TensorView(step.variable("w"))) must be a copy.
  for (size_t i = 0; i < input_names_.size(); ++i) {
    auto begin = static_cast<const std::byte*>(input_ptrs_[i]);
    auto end = begin + input_bytes_[i];
    for (size_t j = 0; j < variable_ptrs_.size(); ++j) {
      auto var = static_cast<const std::byte*>(variable_ptrs_[j]);
      if (begin < var + variable_bytes_[j] && var < end)
        throw Error({}, fmt::format("run: the feed of input '{}' shares memory with variable "
                                    "'{}', which the step may update while reading the feed; "
                                    "feed a copy",
                                    input_names_[i], variable_names_[j]));
    }
  }
  int64_t status[3] = {0, 0, 0};
  {
    FloatMode mode(flush_denormals_);
    fn_(input_ptrs_.data(), variable_ptrs_.data(), output_ptrs_.data(), arena_, status,
        pool_.get());
  }
  if (status[0] != 0) report(status);
  return outputs_;
}

void CompiledStep::report(const int64_t* status) const {
  const Node& node = graph_->node(static_cast<ValueId>(status[1]));
  switch (static_cast<StepError>(status[0])) {
  case StepError::index_out_of_range: {
    int64_t rows = graph_->type(node.operands[0]).shape[0];
    throw Error(node.loc, fmt::format("{}: index {} is out of range for a table of {} rows "
                                      "(valid: [0, {})); no variable was updated",
                                      node_label(node), status[2], rows, rows));
  }
  case StepError::label_out_of_range: {
    int64_t classes = graph_->type(node.operands[0]).shape.back();
    throw Error(node.loc, fmt::format("{}: label {} is out of range for {} classes (valid: [0, "
                                      "{})); no variable was updated",
                                      node_label(node), status[2], classes, classes));
  }
  case StepError::none:
    break;
  }
  internal_error(fmt::format("compiled step reported unknown status {}", status[0]));
}

} // namespace sj

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
#include "runtime/numerics.h"

#include <bit>
#include <chrono>
#include <fmt/format.h>
#include <mutex>

namespace sj {

using StepFn = void (*)(void* const*, void* const*, void* const*, char*, int64_t*, void*);

struct CompiledCode {
  std::shared_ptr<const Graph> graph;
  std::shared_ptr<JitCode> code;
  StepFn fn;
  int64_t arena_bytes, lower_bound_bytes;
};

namespace {

// Compiled code by graph text: a graph compiled while a step of the same graph is alive reuses
// its code. Weak references, so a process compiling many graphs (a search, a fuzzer) keeps only
// the code its live steps run.
std::mutex cache_mutex;
std::map<std::string, std::weak_ptr<CompiledCode>>& cache() {
  static std::map<std::string, std::weak_ptr<CompiledCode>> entries;
  return entries;
}

std::string simplify_report(const SimplifyStats& stats) {
  std::string s;
  for (const auto& [rule, count] : stats)
    if (count) s += fmt::format("# simplify: {} removed {}\n", rule, count);
  return s;
}

// The step's memory: its arena, variables and constants, against the limit.
void check_step_memory(const Graph& g, const Limits& limits, int64_t arena_bytes) {
  int64_t total = arena_bytes, largest_bytes = -1;
  ValueId largest = 0;
  for (ValueId v = 0; v < g.size(); ++v) {
    const Node& n = g.node(v);
    if (n.op != Op::variable && n.op != Op::constant) continue;
    auto bytes = int64_t(n.type.byte_size());
    total += bytes; // at most 8 * 2^40 each, for fewer than 2^32 nodes: no overflow
    if (bytes > largest_bytes) largest_bytes = bytes, largest = v;
  }
  if (g.size() > 0)
    check_memory(g, limits, total,
                 fmt::format("{} of scratch arena, plus the variables and constants", arena_bytes),
                 largest);
}

std::shared_ptr<CompiledCode> build(const Graph& input, const CompileOptions& options) {
  auto add = [&](const char* stage, const char* file, std::string text) {
    if (options.stages) options.stages->push_back({stage, file, std::move(text)});
  };
  SimplifyStats stats;
  auto graph = std::make_shared<const Graph>(options.simplify ? simplify(input, &stats) : input);
  if (options.simplify)
    add("simplified", "03-simplified.sj", print(*graph) + simplify_report(stats));
  FusionPlan fusion = fuse(*graph);
  add("fused", "04-fused.txt", print_fusion(*graph, fusion));
  MemoryPlan memory = plan_memory(*graph, fusion, /*in_place=*/!options.check_numerics);
  add("memory", "05-memory.txt", print_memory(*graph, memory));
  check_step_memory(*graph, options.limits, memory.arena_bytes); // before the costly part
  auto context = std::make_unique<llvm::LLVMContext>();
  auto module = lower_to_llvm(*graph, fusion, memory, *context, options.check_numerics);
  JitDumps dumps{.want = options.stages != nullptr};
  auto code = jit_compile(std::move(module), std::move(context), &dumps);
  if (options.stages) {
    add("llvm", "06-step.ll", std::move(dumps.llvm));
    add("llvm-opt", "07-step-opt.ll", std::move(dumps.llvm_opt));
    add("asm", "08-step.s", std::move(dumps.assembly));
  }
  auto fn = reinterpret_cast<StepFn>(code->lookup(kStepFunction));
  return std::make_shared<CompiledCode>(
      CompiledCode{graph, code, fn, memory.arena_bytes, memory.lower_bound_bytes});
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
  check_work(graph, options.limits);
  std::shared_ptr<CompiledCode> compiled;
  bool reused = false;
  std::string key = print(graph) + (options.simplify ? "" : "#nosimplify") +
                    (options.check_numerics ? "#check_numerics" : "");
  if (!options.stages && options.use_cache) {
    std::lock_guard lock(cache_mutex);
    if (auto it = cache().find(key); it != cache().end()) {
      compiled = it->second.lock();
      reused = compiled != nullptr;
    }
  }
  if (!compiled) {
    compiled = build(graph, options);
    if (options.use_cache) {
      std::lock_guard lock(cache_mutex);
      std::erase_if(cache(), [](const auto& entry) { return entry.second.expired(); });
      cache()[key] = compiled;
    }
  }

  // Again for code from the cache, which may have been compiled under other limits.
  check_step_memory(*compiled->graph, options.limits, compiled->arena_bytes);

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
  step.code_ = compiled;
  step.fn_ = compiled->fn;
  step.pool_ = options.pool          ? options.pool
               : options.threads > 1 ? std::make_shared<ThreadPool>(options.threads)
                                     : nullptr;
  step.flush_denormals_ = options.flush_denormals;
  step.reused_ = reused;
  step.arena_bytes_ = compiled->arena_bytes;
  step.arena_lower_bound_bytes_ = compiled->lower_bound_bytes;
  // The arena, 64-byte aligned inside a byte vector.
  try {
    step.arena_storage_.resize(size_t(compiled->arena_bytes) + 64);
  } catch (const std::bad_alloc&) {
    out_of_memory(graph.size() ? graph.node(0).loc : Location{},
                  fmt::format("allocating the {}-byte scratch arena of graph '{}'",
                              compiled->arena_bytes, graph.name()));
  }
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

const Outputs& CompiledStep::run_tensors(const std::map<std::string, Tensor>& feeds) {
  check_feeds(*graph_, feeds); // before building views: errors name the tensors' types
  std::map<std::string, TensorView> views;
  for (const auto& [name, t] : feeds)
    views.emplace(name, TensorView(t));
  return run(views);
}

const Outputs& CompiledStep::run(const std::map<std::string, TensorView>& feeds) {
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
  int64_t status[kStatusWords] = {};
  {
    FloatMode mode(flush_denormals_);
    fn_(input_ptrs_.data(), variable_ptrs_.data(), output_ptrs_.data(), arena_, status,
        pool_.get());
  }
  if (status[0] != 0) report(status);
  return outputs_;
}

void CompiledStep::report(const int64_t* status) const {
  auto v = static_cast<ValueId>(status[1]);
  if ((status[0] != 1 && status[0] != 2) || v >= graph_->size())
    internal_error(
        fmt::format("compiled step reported unknown status {} for node {}", status[0], status[1]));
  if (status[0] == 2) fail_non_finite(*graph_, v, std::bit_cast<double>(status[2]), status[3]);
  fail_at_run_time(*graph_, graph_->node(v), status[2], status[3]);
}

} // namespace sj

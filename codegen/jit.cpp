#include "codegen/jit.h"

#include "graph/error.h"
#include "kernels/attention.h"
#include "kernels/conv.h"
#include "kernels/gemm.h"
#include "kernels/thread_pool.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fmt/format.h>
#include <llvm/ExecutionEngine/JITLink/JITLink.h>
#include <llvm/ExecutionEngine/Orc/ExecutionUtils.h>
#include <llvm/ExecutionEngine/Orc/JITTargetMachineBuilder.h>
#include <llvm/ExecutionEngine/Orc/LLJIT.h>
#include <llvm/ExecutionEngine/Orc/Mangling.h>
#include <llvm/ExecutionEngine/Orc/ObjectLinkingLayer.h>
#include <llvm/ExecutionEngine/Orc/ThreadSafeModule.h>
#include <llvm/IR/LegacyPassManager.h>
#include <llvm/Object/ObjectFile.h>
#include <llvm/Object/SymbolSize.h>
#include <llvm/Passes/PassBuilder.h>
#include <llvm/Support/TargetSelect.h>
#include <llvm/Support/raw_ostream.h>
#include <llvm/Target/TargetMachine.h>
#include <llvm/TargetParser/Host.h>
#include <llvm/Transforms/Utils/Cloning.h>
#include <map>
#include <mutex>
#include <unistd.h>

namespace sj {

namespace {

std::string message(llvm::Error error) { return llvm::toString(std::move(error)); }

template <typename T>
T unwrap(llvm::Expected<T> value, const char* what) {
  if (!value) internal_error(std::string(what) + ": " + message(value.takeError()));
  return std::move(*value);
}

// The host as LLVM sees it: CPU name and every feature it reports (AVX-512 where present).
llvm::orc::JITTargetMachineBuilder host_machine() {
  static std::once_flag once;
  std::call_once(once, [] {
    llvm::InitializeNativeTarget();
    llvm::InitializeNativeTargetAsmPrinter();
  });
  auto builder = unwrap(llvm::orc::JITTargetMachineBuilder::detectHost(), "detecting the host");
  builder.setCPU(llvm::sys::getHostCPUName().str());
  llvm::SubtargetFeatures features;
  for (const auto& [name, on] : llvm::sys::getHostCPUFeatures())
    features.AddFeature(name, on);
  builder.getFeatures() = features;
  builder.setCodeGenOptLevel(llvm::CodeGenOptLevel::Aggressive);
  return builder;
}

void optimize(llvm::Module& module, llvm::TargetMachine& machine) {
  llvm::LoopAnalysisManager lam;
  llvm::FunctionAnalysisManager fam;
  llvm::CGSCCAnalysisManager cgam;
  llvm::ModuleAnalysisManager mam;
  llvm::PassBuilder builder(&machine);
  builder.registerModuleAnalyses(mam);
  builder.registerCGSCCAnalyses(cgam);
  builder.registerFunctionAnalyses(fam);
  builder.registerLoopAnalyses(lam);
  builder.crossRegisterProxies(lam, fam, cgam, mam);
  builder.buildPerModuleDefaultPipeline(llvm::OptimizationLevel::O2).run(module, mam);
}

std::string text_of(const llvm::Module& module) {
  std::string s;
  llvm::raw_string_ostream os(s);
  module.print(os, nullptr);
  return os.str();
}

std::string assembly_of(const llvm::Module& module, llvm::TargetMachine& machine) {
  std::unique_ptr<llvm::Module> copy = llvm::CloneModule(module);
  llvm::SmallString<0> s;
  llvm::raw_svector_ostream os(s);
  llvm::legacy::PassManager pm;
  if (machine.addPassesToEmitFile(pm, os, nullptr, llvm::CodeGenFileType::AssemblyFile))
    internal_error("the host target cannot emit assembly");
  pm.run(*copy);
  return std::string(s.str());
}

bool perf_map_wanted() {
  const char* on = std::getenv("STEPJIT_PERF_MAP");
  return on && std::strcmp(on, "1") == 0;
}

// STEPJIT_PERF_MAP=1: every function the JIT links, at its final address, as a line
// `<hex start> <hex size> <name>` of /tmp/perf-<pid>.map, the file `perf report` reads for
// code it finds in no binary. The functions (local ones included: JITLink's graph keeps no
// name for them) and their sizes come from the object file's symbol table
// (object::computeSymbolSizes), their addresses from where JITLink placed their section.
class PerfMapPlugin : public llvm::orc::ObjectLinkingLayer::Plugin {
public:
  struct Function {
    std::string name, section;
    uint64_t offset, size;
  };

  void notifyMaterializing(llvm::orc::MaterializationResponsibility&, llvm::jitlink::LinkGraph& g,
                           llvm::jitlink::JITLinkContext&, llvm::MemoryBufferRef object) override {
    auto file = llvm::object::ObjectFile::createObjectFile(object);
    if (!file) return llvm::consumeError(file.takeError());
    std::vector<Function> functions;
    for (auto& [symbol, size] : llvm::object::computeSymbolSizes(**file)) {
      auto type = symbol.getType();
      auto name = symbol.getName();
      auto section = symbol.getSection();
      auto offset = symbol.getValue();
      if (!type || !name || !section || !offset || *type != llvm::object::SymbolRef::ST_Function ||
          *section == (*file)->section_end() || size == 0) {
        if (!type) llvm::consumeError(type.takeError());
        if (!name) llvm::consumeError(name.takeError());
        if (!section) llvm::consumeError(section.takeError());
        if (!offset) llvm::consumeError(offset.takeError());
        continue;
      }
      auto section_name = (*section)->getName();
      if (!section_name) {
        llvm::consumeError(section_name.takeError());
        continue;
      }
      // (ELF relocatable objects: a symbol's value is its offset in its section.)
      functions.push_back({name->str(), section_name->str(), *offset, size});
    }
    std::lock_guard lock(mutex_);
    pending_[&g] = std::move(functions);
  }

  void modifyPassConfig(llvm::orc::MaterializationResponsibility&, llvm::jitlink::LinkGraph& g,
                        llvm::jitlink::PassConfiguration& config) override {
    std::vector<Function> functions;
    {
      std::lock_guard lock(mutex_);
      auto it = pending_.find(&g);
      if (it == pending_.end()) return;
      functions = std::move(it->second);
      pending_.erase(it);
    }
// GCC 12 warns of unique_function's storage union (a false positive of -Wmaybe-uninitialized;
// clang has no such warning, and -Werror refuses an unknown one).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
    config.PostFixupPasses.push_back(
        [functions = std::move(functions)](llvm::jitlink::LinkGraph& graph) {
          write(graph, functions);
          return llvm::Error::success();
        });
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
  }

  static void write(llvm::jitlink::LinkGraph& graph, const std::vector<Function>& functions) {
    std::string lines;
    for (const Function& f : functions) {
      // JITLink makes one block of each ELF section; a section split otherwise is skipped.
      llvm::jitlink::Section* section = graph.findSectionByName(f.section);
      if (!section || section->blocks_size() != 1) continue;
      llvm::jitlink::Block* block = *section->blocks().begin();
      if (f.offset + f.size > block->getSize()) continue;
      lines += fmt::format("{:x} {:x} {}\n", (block->getAddress() + f.offset).getValue(), f.size,
                           f.name);
    }
    static std::mutex file_mutex; // several steps may compile at once
    std::lock_guard lock(file_mutex);
    std::string path = "/tmp/perf-" + std::to_string(getpid()) + ".map";
    if (std::FILE* file = std::fopen(path.c_str(), "a")) {
      std::fwrite(lines.data(), 1, lines.size(), file);
      std::fclose(file);
    }
  }

  llvm::Error notifyFailed(llvm::orc::MaterializationResponsibility&) override {
    return llvm::Error::success();
  }
  llvm::Error notifyRemovingResources(llvm::orc::JITDylib&, llvm::orc::ResourceKey) override {
    return llvm::Error::success();
  }
  void notifyTransferringResources(llvm::orc::JITDylib&, llvm::orc::ResourceKey,
                                   llvm::orc::ResourceKey) override {}

private:
  std::mutex mutex_;
  std::map<const llvm::jitlink::LinkGraph*, std::vector<Function>> pending_;
};

} // namespace

struct JitCode::Impl {
  std::unique_ptr<llvm::orc::LLJIT> jit;
};

JitCode::~JitCode() = default;

void* JitCode::lookup(const std::string& name) const {
  auto address = unwrap(impl_->jit->lookup(name), "looking up a compiled function");
  return address.toPtr<void*>();
}

std::shared_ptr<JitCode> jit_compile(std::unique_ptr<llvm::Module> module,
                                     std::unique_ptr<llvm::LLVMContext> context, JitDumps* dumps) {
  llvm::orc::JITTargetMachineBuilder builder = host_machine();
  std::unique_ptr<llvm::TargetMachine> machine =
      unwrap(builder.createTargetMachine(), "creating the target machine");
  module->setDataLayout(machine->createDataLayout());
  module->setTargetTriple(machine->getTargetTriple().str());
  if (dumps && dumps->want) dumps->llvm = text_of(*module);
  optimize(*module, *machine);
  if (dumps && dumps->want) {
    dumps->llvm_opt = text_of(*module);
    dumps->assembly = assembly_of(*module, *machine);
  }

  auto code = std::shared_ptr<JitCode>(new JitCode());
  code->impl_ = std::make_unique<JitCode::Impl>();
  code->impl_->jit = unwrap(llvm::orc::LLJITBuilder().setJITTargetMachineBuilder(builder).create(),
                            "creating the JIT");
  auto& jit = *code->impl_->jit;
  // LLJIT links with JITLink on x86-64 ELF (LLVM 19), whose graph the perf map reads.
  if (perf_map_wanted())
    if (auto* layer = llvm::dyn_cast<llvm::orc::ObjectLinkingLayer>(&jit.getObjLinkingLayer()))
      layer->addPlugin(std::make_unique<PerfMapPlugin>());
  // libm (expf, tanhf, erff, ...) and the rest of the process, for calls the code makes.
  jit.getMainJITDylib().addGenerator(
      unwrap(llvm::orc::DynamicLibrarySearchGenerator::GetForCurrentProcess(
                 jit.getDataLayout().getGlobalPrefix()),
             "exposing process symbols"));
  // The kernels steps call (kernels/), by address: they are in this process but need not be
  // exported from it.
  llvm::orc::MangleAndInterner mangle(jit.getExecutionSession(), jit.getDataLayout());
  auto callable = llvm::JITSymbolFlags::Exported | llvm::JITSymbolFlags::Callable;
  llvm::orc::SymbolMap kernels;
  kernels[mangle("sj_gemm_f32")] = {llvm::orc::ExecutorAddr::fromPtr(&sj_gemm_f32), callable};
  for (auto [name, fn] : {std::pair{"sj_conv2d_f32", &sj_conv2d_f32},
                          {"sj_conv2d_backprop_input_f32", &sj_conv2d_backprop_input_f32},
                          {"sj_conv2d_backprop_kernel_f32", &sj_conv2d_backprop_kernel_f32}})
    kernels[mangle(name)] = {llvm::orc::ExecutorAddr::fromPtr(fn), callable};
  for (auto [name, fn] : {std::pair{"sj_attention_f32", &sj_attention_f32},
                          {"sj_attention_f64", &sj_attention_f64},
                          {"sj_attention_backprop_f32", &sj_attention_backprop_f32},
                          {"sj_attention_backprop_f64", &sj_attention_backprop_f64}})
    kernels[mangle(name)] = {llvm::orc::ExecutorAddr::fromPtr(fn), callable};
  kernels[mangle("sj_parallel_for")] = {llvm::orc::ExecutorAddr::fromPtr(&sj_parallel_for),
                                        callable};
  if (auto error = jit.getMainJITDylib().define(llvm::orc::absoluteSymbols(std::move(kernels))))
    internal_error("defining the kernel symbols: " + message(std::move(error)));
  if (auto error =
          jit.addIRModule(llvm::orc::ThreadSafeModule(std::move(module), std::move(context))))
    internal_error("adding the module to the JIT: " + message(std::move(error)));
  return code;
}

} // namespace sj

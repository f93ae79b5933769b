#include "codegen/jit.h"

#include "graph/error.h"
#include "kernels/conv.h"
#include "kernels/gemm.h"
#include "kernels/thread_pool.h"

#include <llvm/ExecutionEngine/Orc/ExecutionUtils.h>
#include <llvm/ExecutionEngine/Orc/JITTargetMachineBuilder.h>
#include <llvm/ExecutionEngine/Orc/LLJIT.h>
#include <llvm/ExecutionEngine/Orc/Mangling.h>
#include <llvm/ExecutionEngine/Orc/ThreadSafeModule.h>
#include <llvm/IR/LegacyPassManager.h>
#include <llvm/Passes/PassBuilder.h>
#include <llvm/Support/TargetSelect.h>
#include <llvm/Support/raw_ostream.h>
#include <llvm/Target/TargetMachine.h>
#include <llvm/TargetParser/Host.h>
#include <llvm/Transforms/Utils/Cloning.h>
#include <mutex>

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

// LLVM's ORC LLJIT for this machine, as small as Kaleidoscope's: a target machine built from
// the detected host CPU and its features (not a generic x86-64), LLVM's O2 pipeline so loops
// vectorize, and process symbols visible so libm resolves.
#pragma once

#include <llvm/IR/LLVMContext.h>
#include <llvm/IR/Module.h>
#include <memory>
#include <string>

namespace sj {

/// The texts of the stages of one compilation, when asked for.
struct JitDumps {
  bool want = false;
  std::string llvm = {};     // as lowered
  std::string llvm_opt = {}; // after the O2 pipeline
  std::string assembly = {}; // native code for the host
};

/// JIT-compiled code, alive as long as this object.
class JitCode {
public:
  ~JitCode();
  /// The address of a function of the module.
  void* lookup(const std::string& name) const;

private:
  friend std::shared_ptr<JitCode> jit_compile(std::unique_ptr<llvm::Module>,
                                              std::unique_ptr<llvm::LLVMContext>, JitDumps*);
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// Optimizes `module` for the host CPU (O2) and compiles it. Fills `dumps` if dumps->want.
std::shared_ptr<JitCode> jit_compile(std::unique_ptr<llvm::Module> module,
                                     std::unique_ptr<llvm::LLVMContext> context,
                                     JitDumps* dumps = nullptr);

} // namespace sj

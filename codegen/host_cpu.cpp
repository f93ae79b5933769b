#include "codegen/host_cpu.h"

#include <llvm/ADT/StringMap.h>
#include <llvm/ADT/StringRef.h>
#include <llvm/Config/llvm-config.h>
#include <llvm/TargetParser/Host.h>
#include <string_view>

namespace sj {

std::string llvm_version() { return LLVM_VERSION_STRING; }

std::string host_cpu_description() {
  std::string s(llvm::sys::getHostCPUName());
  llvm::StringMap<bool> features = llvm::sys::getHostCPUFeatures();
  for (std::string_view f : {"avx2", "fma", "avx512f", "avx512bw", "avx512vl"})
    if (features.lookup(f)) s += " +" + std::string(f);
  return s;
}

} // namespace sj

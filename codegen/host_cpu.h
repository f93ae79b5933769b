// What LLVM sees of this machine: the CPU name and features codegen will target.
#pragma once

#include <string>

namespace sj {

/// The LLVM version stepjit was built against, e.g. "19.1.7".
std::string llvm_version();
/// The host CPU as LLVM names it (e.g. "skylake-avx512"), with its notable vector features.
std::string host_cpu_description();

} // namespace sj

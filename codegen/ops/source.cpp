// Sources and state: the driver gives them storage (feeds, variable buffers, constant data)
// and commits every assign at the end of the step (codegen/lower_to_llvm.cpp).
#include "codegen/lowering.h"

namespace sj::codegen {

extern const Lowering input_lowering{.source = true};
extern const Lowering variable_lowering{.source = true};
extern const Lowering constant_lowering{.source = true};
extern const Lowering assign_lowering{.source = true};

} // namespace sj::codegen

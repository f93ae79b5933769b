// The lowering table, one row per op of graph/ops.def (a missing row fails to link).
#include "codegen/lowering.h"

namespace sj {

namespace codegen {
#define SJ_OP(name, family) extern const Lowering name##_lowering;
#include "graph/ops.def"
#undef SJ_OP
} // namespace codegen

namespace {

const Lowering* const kLowerings[] = {
#define SJ_OP(name, family) &codegen::name##_lowering,
#include "graph/ops.def"
#undef SJ_OP
};

} // namespace

const Lowering& lowering_of(Op op) { return *kLowerings[static_cast<size_t>(op)]; }

} // namespace sj

#include "graph/ops/shape_util.h"

#include <fmt/format.h>

namespace sj::ops {

Shape broadcast_shapes(const OpCall& call, const Shape& a, const Shape& b) {
  size_t rank = std::max(a.size(), b.size());
  Shape out(rank);
  for (size_t i = 0; i < rank; ++i) {
    // Align from the right, as NumPy does.
    int64_t da = i < rank - a.size() ? 1 : a[i - (rank - a.size())];
    int64_t db = i < rank - b.size() ? 1 : b[i - (rank - b.size())];
    if (da != db && da != 1 && db != 1)
      call.fail(fmt::format("shapes {} and {} do not broadcast: dimension {} (counting from the "
                            "end) is {} in one and {} in the other; each pair of aligned "
                            "dimensions must be equal or 1",
                            shape_str(a), shape_str(b), int64_t(i) - int64_t(rank), da, db));
    out[i] = da == 1 ? db : da;
  }
  return out;
}

bool broadcasts_to(const Shape& from, const Shape& to) {
  if (from.size() > to.size()) return false;
  size_t off = to.size() - from.size();
  for (size_t i = 0; i < from.size(); ++i)
    if (from[i] != 1 && from[i] != to[off + i]) return false;
  return true;
}

int normalize_axis(const OpCall& call, int64_t axis, int rank, std::string_view attr) {
  if (axis < -rank || axis >= rank)
    call.fail(fmt::format("{} = {} is out of range for rank {} (valid: {} to {})", attr, axis, rank,
                          -rank, rank - 1));
  return static_cast<int>(axis < 0 ? axis + rank : axis);
}

static std::string ordinal(size_t i) {
  static const char* names[] = {"first", "second", "third", "fourth"};
  return i < 4 ? names[i] : fmt::format("#{}", i + 1);
}

static std::string operand_label(const OpCall& call, size_t i) {
  const auto& names = call.def.operand_names;
  if (i < names.size() && call.def.num_operands != kVariadic)
    return fmt::format("operand '{}' ({})", names[i], call.types[i].str());
  return fmt::format("the {} operand ({})", ordinal(i), call.types[i].str());
}

void require_float(const OpCall& call, size_t i) {
  DType t = call.types[i].dtype;
  if (!is_float(t))
    call.fail(fmt::format("{} must be floating point (f32 or f64), not {}; convert it with "
                          "cast(x, f32)",
                          operand_label(call, i), dtype_name(t)));
}

void require_numeric(const OpCall& call, size_t i) {
  if (!is_numeric(call.types[i].dtype))
    call.fail(fmt::format("{} must be numeric (f32, f64, i32 or i64), not bool; convert it with "
                          "cast(x, f32)",
                          operand_label(call, i)));
}

void require_int(const OpCall& call, size_t i) {
  DType t = call.types[i].dtype;
  if (!is_int(t))
    call.fail(fmt::format("{} must be an integer (i32 or i64), not {}", operand_label(call, i),
                          dtype_name(t)));
}

void require_same_dtype(const OpCall& call, size_t i, size_t j) {
  DType a = call.types[i].dtype, b = call.types[j].dtype;
  if (a != b)
    call.fail(fmt::format("{} and {} must have the same dtype; stepjit never converts "
                          "implicitly: use cast(x, {}) on one of them",
                          operand_label(call, i), operand_label(call, j), dtype_name(a)));
}

void require_length(const OpCall& call, std::string_view attr, size_t got, int rank) {
  if (got != size_t(rank))
    call.fail(fmt::format("{} has {} entries, expected one per dimension of the operand ({})", attr,
                          got, rank));
}

OpDef unary_def(Op op, std::string_view name, InferFn infer, EvalFn eval, GradFn grad,
                Fusion fusion, std::string_view summary, std::vector<AttrSpec> attrs) {
  return {.op = op,
          .name = name,
          .num_operands = 1,
          .operand_names = {"x"},
          .attrs = std::move(attrs),
          .infer = infer,
          .eval = eval,
          .grad = grad,
          .fusion = fusion,
          .summary = summary};
}

} // namespace sj::ops

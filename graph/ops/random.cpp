// Random numbers inside the graph: random_uniform(counter) {seed, shape, dtype}.
//
// Stateless and counter-based: element i of the result is a pure function of (seed, the
// counter's value, i), from the one generator of graph/initializers.h:
//
//   bits(i) = random_bits(random_bits(seed, counter), i)
//   f64: (bits >> 11) * 2^-53        f32: (bits >> 40) * 2^-24        (both in [0, 1))
//
// so the interpreter and the compiled step agree bit for bit, evaluation order does not matter,
// and two nodes with the same operand and attributes are the same value (simplify may merge or
// fold them). Fresh numbers each step come from a fresh counter: Dropout keeps an i64 variable
// and assigns it counter + 1 (frontend/layers.h). The shape is an attribute, as in reshape, so
// the op is an ordinary node with one operand.
#include "graph/initializers.h"
#include "graph/ops/kernel_util.h"
#include "graph/ops/shape_util.h"

#include <fmt/format.h>

namespace sj {
using namespace ops;

namespace {

TensorType infer_random_uniform(const OpCall& c) {
  const TensorType& counter = c.types[0];
  if (counter.dtype != DType::i64 || counter.rank() != 0)
    c.fail(fmt::format("operand 'counter' must be an i64 scalar (i64[]), got {}", counter.str()));
  DType dtype = c.attrs.dtype("dtype");
  if (!is_float(dtype)) c.fail(fmt::format("dtype = {} must be f32 or f64", dtype_name(dtype)));
  const std::vector<int64_t>& shape = c.attrs.ints("shape");
  for (int64_t d : shape)
    if (d < 0) c.fail(fmt::format("shape = {} has a negative dimension", shape_str(Shape(shape))));
  return {dtype, Shape(shape)};
}

Tensor eval_random_uniform(const EvalCall& c) {
  auto seed = static_cast<uint64_t>(c.attrs().integer("seed"));
  auto counter = static_cast<uint64_t>(c.args[0]->as_int64(0));
  uint64_t key = random_bits(seed, counter);
  Tensor out(c.type());
  visit_float(out.dtype(), [&]<typename T>() {
    T* p = out.data<T>();
    for (int64_t i = 0; i < out.num_elements(); ++i) {
      uint64_t bits = random_bits(key, static_cast<uint64_t>(i));
      if constexpr (std::is_same_v<T, float>)
        p[i] = float(bits >> 40) * 0x1.0p-24f;
      else
        p[i] = double(bits >> 11) * 0x1.0p-53;
    }
  });
  return out;
}

} // namespace

extern const OpDef random_uniform_def = {
    .op = Op::random_uniform,
    .name = "random_uniform",
    .num_operands = 1,
    .operand_names = {"counter"},
    .attrs = {{"shape", AttrKind::ints, std::nullopt},
              {"seed", AttrKind::integer, int64_t{0}},
              {"dtype", AttrKind::dtype, DType::f32}},
    .infer = infer_random_uniform,
    .eval = eval_random_uniform,
    // No gradient: the values do not depend on anything differentiable.
    .fusion = Fusion::elementwise,
    .summary = "uniform [0, 1) numbers of `shape`, a pure function of (`seed`, the i64 scalar "
               "`counter`, element index): a new counter gives new numbers"};

} // namespace sj

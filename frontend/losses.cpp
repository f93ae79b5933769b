#include "frontend/losses.h"

#include <fmt/format.h>

namespace sj {

namespace {

void require_same_shape(const char* loss, Value a, Value b, const Location& loc) {
  if (a.type() == b.type()) return;
  std::string hint;
  if (a.rank() == b.rank() + 1 && a.shape().back() == 1)
    hint = fmt::format("; reshape the targets to {} (or the predictions to {}) first: broadcasting "
                       "them would compare every prediction with every target",
                       shape_str(a.shape()), shape_str(b.shape()));
  else if (b.rank() == a.rank() + 1 && b.shape().back() == 1)
    hint = fmt::format("; reshape the targets to {} first: broadcasting would compare every "
                       "prediction with every target",
                       shape_str(a.shape()));
  throw Error(loc, fmt::format("{}({}, {}): predictions and targets must have the same type{}",
                               loss, a.type().str(), b.type().str(), hint));
}

} // namespace

Value mean_squared_error(Value pred, Value target, Loc loc) {
  require_same_shape("mean_squared_error", pred, target, loc.where);
  return reduce_mean(square(sub(pred, target, loc), loc), Axes::all(), false, loc);
}

Value mean_absolute_error(Value pred, Value target, Loc loc) {
  require_same_shape("mean_absolute_error", pred, target, loc.where);
  return reduce_mean(abs(sub(pred, target, loc), loc), Axes::all(), false, loc);
}

Value binary_crossentropy_from_logits(Value x, Value z, Loc loc) {
  require_same_shape("binary_crossentropy_from_logits", x, z, loc.where);
  // max(x, 0) and -|x| as the two sides of one select on x >= 0 (TensorFlow's formulation), not
  // relu(x) and neg(abs(x)): at x = 0 those have derivative 0 each, which made the gradient
  // (1 - z) / N instead of (sigmoid(0) - z) / N; one select keeps the two kinks cancelling.
  Value zero = scalar_like(x, 0.0, loc);
  Value nonnegative = greater_equal(x, zero, loc);
  Value max_x_0 = select(nonnegative, x, zero, loc);
  Value minus_abs_x = select(nonnegative, neg(x, loc), x, loc);
  // One node-building operand per call: C++ leaves the order of two unspecified.
  Value linear = sub(max_x_0, mul(x, z, loc), loc);
  Value stable = add(linear, softplus(minus_abs_x, loc), loc);
  return reduce_mean(stable, Axes::all(), false, loc);
}

Value categorical_crossentropy_from_logits(Value logits, Value targets, Loc loc) {
  require_same_shape("categorical_crossentropy_from_logits", logits, targets, loc.where);
  Value per_row =
      neg(reduce_sum(mul(targets, log_softmax(logits, -1, loc), loc), {-1}, false, loc), loc);
  return reduce_mean(per_row, Axes::all(), false, loc);
}

Value sparse_categorical_crossentropy_from_logits(Value logits, Value labels, Loc loc) {
  return softmax_cross_entropy(logits, labels, loc);
}

Value accuracy(Value logits, Value labels, Loc loc) {
  Shape rows = logits.shape();
  if (!rows.empty()) rows.pop_back();
  if (logits.rank() == 0 || labels.shape() != rows || !is_int(labels.dtype()))
    throw Error(loc.where, fmt::format("accuracy({}, {}): labels must hold one integer class "
                                       "index per row of logits [..., classes]",
                                       logits.type().str(), labels.type().str()));
  // 1 where the label's logit is the row's maximum, summed over classes: 1 or 0 per row.
  Value best = equal(logits, reduce_max(logits, {-1}, true, loc), loc);
  Value hot = one_hot(labels, logits.shape().back(), logits.dtype(), loc);
  Value right = reduce_sum(mul(hot, cast(best, logits.dtype(), loc), loc), {-1}, false, loc);
  return stop_gradient(reduce_mean(right, Axes::all(), false, loc), loc);
}

} // namespace sj

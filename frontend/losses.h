// Losses and metrics, as graph values, with Keras's and PyTorch's defaults: the mean over the
// batch (and over every element for the elementwise losses).
//
// Shapes must match exactly where Keras would broadcast silently: predictions f32[32,1] against
// targets f32[32] broadcast to [32,32] and give a wrong loss that still trains; here they are an
// error that says so and suggests the reshape.
#pragma once

#include "graph/builder.h"

namespace sj {

/// mean((pred - target)^2) over every element.
Value mean_squared_error(Value pred, Value target, Loc loc = {});
/// mean(|pred - target|) over every element.
Value mean_absolute_error(Value pred, Value target, Loc loc = {});
/// Binary cross-entropy of sigmoid(logits) against targets in [0, 1], computed stably from the
/// logits: mean(max(x, 0) - x z + log(1 + e^-|x|)).
Value binary_crossentropy_from_logits(Value logits, Value targets, Loc loc = {});
/// Categorical cross-entropy of softmax(logits) against one-hot or probability targets of the
/// same shape [..., classes]: mean over rows of -sum(targets * log_softmax(logits)).
Value categorical_crossentropy_from_logits(Value logits, Value targets, Loc loc = {});
/// The same against integer class labels [...] (one per row of logits [..., classes]).
Value sparse_categorical_crossentropy_from_logits(Value logits, Value labels, Loc loc = {});
/// The fraction of rows whose label has the largest logit (a row whose label ties for the
/// largest counts as right), as a scalar of logits' dtype. A metric: it has no gradient.
Value accuracy(Value logits, Value labels, Loc loc = {});

} // namespace sj

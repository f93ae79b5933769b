// Measuring a trained model on data: the loss and metrics of its prediction against labels,
// computed in f64 on the host, over every row (stepjit evaluate; the same from C++).
//
//   auto predict = sj::CompiledStep::compile(forward, {.share_variables =
//   step.shared_variables()}); sj::Evaluation e = sj::evaluate(predict, test_x, test_y,
//                                   {.loss = "sparse_ce", .metrics = {"accuracy", "top5"}});
//   std::cout << e.str() << "\n";   // evaluated 360 examples: loss 0.1123, accuracy 0.9667, ...
#pragma once

#include "graph/error.h"
#include "graph/tensor.h"
#include "runtime/compiled_step.h"

#include <string>
#include <utility>
#include <vector>

namespace sj {

struct EvaluateOptions {
  /// The loss kind, as `stepjit train --loss`: mse, mae, bce_logits, sparse_ce (integer class
  /// labels, the prediction's shape without its last axis) or ce (one-hot or probabilities).
  std::string loss = "sparse_ce";
  /// accuracy, topK (K >= 1, sparse_ce only).
  std::vector<std::string> metrics = {};
  /// The model's output holding the prediction (the logits for the cross-entropies).
  std::string prediction = "pred";
  /// What errors call the labels ("--y" from the CLI) and where they come from (their file).
  std::string labels_name = "labels";
  Location labels_at = {};
};

struct Evaluation {
  int64_t examples = 0;
  double loss = 0;
  std::vector<std::pair<std::string, double>> metrics; ///< in the order asked for
  /// `evaluated N examples: loss L, accuracy A, ...`.
  std::string str() const;
};

/// The loss and metrics of `pred` ([N, ...]) against `labels`, in f64. sj::Error (at
/// options.labels_at) for labels of the wrong shape or a class out of range, naming the row.
Evaluation evaluate_prediction(const Tensor& pred, const Tensor& labels,
                               const EvaluateOptions& options);

/// Runs `model` (one input, static batch B) on every row of `x` in batches of B, the last one
/// padded with zeros (its padding is not counted), then evaluate_prediction.
Evaluation evaluate(CompiledStep& model, const Tensor& x, const Tensor& labels,
                    const EvaluateOptions& options = {});

/// The index of the largest element over the last axis (i64; ties: the first), and the softmax
/// over the last axis (computed in f64), for turning logits into classes and probabilities.
Tensor argmax_last_axis(const Tensor& t);
Tensor softmax_last_axis(const Tensor& t);

} // namespace sj

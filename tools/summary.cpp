// stepjit summary: a model's layers, parameters, FLOPs per step and arena (runtime/summary.h).
#include "runtime/summary.h"

#include "tools/commands.h"
#include "tools/common.h"

#include <algorithm>
#include <fmt/format.h>
#include <iostream>

namespace sj::cli {

int run_summary(const std::string& file, const std::string& loss, bool optimizer_given,
                const sj::OptimizerSpec& spec) {
  sj::Graph g = load(file);
  sj::SummaryOptions options;
  if (optimizer_given || !loss.empty()) {
    GradientRequest request;
    if (!loss.empty()) request.loss = loss;
    // A loss kind builds the loss on the prediction, as train and bench do.
    if (std::find(kLossKinds.begin(), kLossKinds.end(), request.loss) != kLossKinds.end())
      prepare_loss(g, request, sj::DType::i32);
    options.optimizer = spec;
    options.loss = request.loss;
  }
  std::cout << sj::summary(g, options);
  if (!options.optimizer)
    std::cout << "(give --optimizer or --loss to summarize the training step: gradients and "
                 "update)\n";
  return 0;
}

} // namespace sj::cli

// The hand-written Eigen step of a workload, starting from the same initial weights as stepjit
// (the model file's initializers), and the check that it computes the same losses.
#pragma once

#include "eigen_mlp_step.h"
#include "workloads.h"

namespace bench {

/// An Eigen step for `w` whose weights are the initial values of the model's variables
/// dense_<l>/kernel and dense_<l>/bias.
EigenMlpStep make_eigen_step(const Workload& w, int threads);

/// One Eigen step on a batch of make_batches(w, ...); returns the loss before the update.
float run_eigen_step(EigenMlpStep& step, const Batch& batch);

/// Runs a few steps of the Eigen step and of stepjit's compiled step from the same weights on
/// the same batches; prints both loss sequences and aborts the process unless each pair agrees
/// within 1e-3 relative. Checked once per (workload, threads).
void check_eigen_against_stepjit(const Workload& w, int threads);

} // namespace bench

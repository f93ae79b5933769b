// The three workloads of the performance issue, each a model file in examples/models/ and the
// same network described for the hand-written Eigen step:
//   seed: Dense(100 -> 10, relu) -> Dense(1), batch 32, MSE, Adam(lr 0.01)
//   mlp:  784 -> 512 relu -> 512 relu -> 10, batch 128, softmax cross-entropy, Adam(lr 1e-3)
//   wide: 1024 -> 4096 relu -> 1024, batch 256, MSE, SGD(lr 0.01, momentum 0.9)
#pragma once

#include "eigen_mlp_step.h"
#include "frontend/optimizers.h"
#include "graph/graph.h"
#include "graph/tensor.h"

#include <map>
#include <string>
#include <vector>

namespace bench {

struct Workload {
  std::string name; // seed, mlp, wide
  std::string file; // under examples/models/
  MlpSpec spec;
};

const std::vector<Workload>& workloads();

/// The optimizer of `w`, as `stepjit train --optimizer ... --lr ...` would build it.
sj::OptimizerSpec optimizer_spec(const Workload& w);

/// The training step as `stepjit train` builds it: the parsed model, the gradients of its
/// `loss` output with respect to every variable, then the optimizer's update.
sj::Graph training_graph(const Workload& w);

/// One batch of feeds: "x" normal, and "y" normal (mse) or "labels" uniform in the classes.
using Batch = std::map<std::string, sj::Tensor>;
/// `count` different batches from a fixed seed: the benchmarks cycle through them so that the
/// values stay ordinary (a step repeated on one batch can drive activations toward denormals).
std::vector<Batch> make_batches(const Workload& w, int count);

/// GEMM flops of one training step. Convention: forward 2·batch·in·out per layer; backward
/// two GEMMs of the same size per layer (the kernel gradient and the input gradient), except
/// the first layer's input gradient, which nothing needs. Elementwise work is not counted.
double step_flops(const MlpSpec& spec);

} // namespace bench

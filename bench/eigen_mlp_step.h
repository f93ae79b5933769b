// A hand-written training step for a dense ReLU network, the reference stepjit is measured
// against: Eigen GEMMs, fused elementwise loops and the optimizer written out by hand, compiled
// with -O3 -march=native and OpenMP (bench/CMakeLists.txt). Written independently of stepjit.
//
// The network: x [batch, widths[0]] -> Dense(widths[1]) relu -> ... -> Dense(widths.back()),
// row-major, kernels [in, out] (Keras's layout, as in the .sj models), then either the mean
// squared error against y or the mean softmax cross-entropy against integer labels.
//
// This header shows no Eigen or stepjit type, so no inline function is compiled both with and
// without -march=native.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace bench {

enum class Loss { mse, softmax_cross_entropy };
enum class Update { adam, sgd_momentum };

struct MlpSpec {
  std::vector<int64_t> widths; // widths[0] inputs, then each layer's units
  int64_t batch = 0;
  Loss loss = Loss::mse;
  Update update = Update::adam;
  float learning_rate = 1e-3f;
};

class EigenMlpStep {
public:
  /// Zero weights and optimizer state; `threads` for Eigen's GEMM and the elementwise loops.
  EigenMlpStep(MlpSpec spec, int threads);

  /// Layer l's parameters, to copy initial values in.
  std::span<float> kernel(int l) { return layers_[l].w.value; }
  std::span<float> bias(int l) { return layers_[l].b.value; }

  /// One step on x [batch, widths[0]] and y [batch, widths.back()] (mse) or labels [batch]
  /// (cross-entropy): forward, backward, update. Returns the loss before the update.
  float run(const float* x, const float* y);
  float run(const float* x, const int32_t* labels);

private:
  struct Param {
    std::vector<float> value, grad, m, v; // m: Adam's first moment or SGD's momentum buffer
  };
  struct Layer {
    int64_t in, out;
    Param w, b;
    std::vector<float> act;   // relu output (hidden layers) or prediction (last layer)
    std::vector<float> delta; // gradient with respect to this layer's pre-activation
  };
  float step(const float* x, const float* y, const int32_t* labels);
  float mse(const float* y);
  float cross_entropy(const int32_t* labels);
  void update(Param& p);

  MlpSpec spec_;
  int threads_;
  std::vector<Layer> layers_;
  int64_t t_ = 0; // steps taken: Adam's t during a step
};

} // namespace bench

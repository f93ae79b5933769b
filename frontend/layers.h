// Keras-like layers and Sequential, building graph values. A layer creates its variables the
// first time it is called, when its input shape is known, with Keras's layouts, defaults and
// stable names (`dense_0/kernel`, `dense_0/bias`, ...: checkpoints and feeds refer to them).
//
//   sj::Sequential model(sj::Dense(10, sj::Activation::relu), sj::Dense(1));
//   sj::Value pred = model(x);                      // x: f32[32,100]
//   auto vars = model.trainable_variables();        // dense_0/kernel, dense_0/bias, ...
#pragma once

#include "graph/builder.h"

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace sj {

enum class Activation { linear, relu, sigmoid, tanh, gelu, softmax };
/// "relu", "linear", ...; sj::Error listing the known names otherwise.
Activation activation_named(std::string_view name);
Value activate(Value x, Activation activation, Loc loc = {});

/// A layer: called on a value, it returns the layer's output in the same graph.
class Layer {
public:
  virtual ~Layer() = default;
  virtual Value operator()(Value x) = 0;
  /// The variables the layer created in the graph of its first call (empty before), in a stable
  /// order. Called on a value of another graph (an inference graph), the layer declares
  /// variables of the same names and types there, which a compiled step can share
  /// (CompileOptions::share_variables).
  const std::vector<Value>& variables() const { return variables_; }
  const std::string& name() const { return name_; }

protected:
  /// "dense" -> "dense_0", "dense_1", ... unique in the graph; returns the number.
  int64_t name_in(Graph& g, std::string_view kind);
  Value add_variable(Graph& g, const std::string& suffix, TensorType type, const Init& init,
                     const Loc& loc);
  /// Variable i of this layer in graph g: its own, or the same-named one declared in g.
  Value variable_in(Graph& g, size_t i);

  std::string name_;
  std::vector<Value> variables_;
  Loc loc_;
};

struct DenseOptions {
  bool use_bias = true;
  /// Seed 0 means "the layer's number + 1" (dense_0 gets seed 1): deterministic, and distinct
  /// per layer.
  Init kernel_initializer = Init::glorot_uniform(0);
  Init bias_initializer = Init::zeros();
};

/// x [..., in] -> activation(x W + b), W [in, units] (Keras's layout), b [units].
class Dense final : public Layer {
public:
  explicit Dense(int64_t units, Activation activation = Activation::linear,
                 DenseOptions options = {}, Loc loc = {});
  Value operator()(Value x) override;

private:
  int64_t units_;
  Activation activation_;
  DenseOptions options_;
};

/// [batch, d1, d2, ...] -> [batch, d1 * d2 * ...].
class Flatten final : public Layer {
public:
  explicit Flatten(Loc loc = {}) { loc_ = loc; }
  Value operator()(Value x) override;
};

/// Integer ids [...] -> vectors [..., dim] from a table [vocabulary, dim] (uniform init, as
/// Keras). Out-of-range ids are a run-time error.
class Embedding final : public Layer {
public:
  Embedding(int64_t vocabulary, int64_t dim, Loc loc = {});
  Value operator()(Value ids) override;

private:
  int64_t vocabulary_, dim_;
};

/// Normalizes the last axis: (x - mean) / sqrt(var + epsilon) * gamma + beta.
class LayerNorm final : public Layer {
public:
  explicit LayerNorm(double epsilon = 1e-3, Loc loc = {});
  Value operator()(Value x) override;

private:
  double epsilon_;
};

/// Layers applied in order.
class Sequential {
public:
  Sequential() = default;
  /// Takes the layers by value: `Sequential(Dense(10, Activation::relu), Dense(1))`.
  template <typename... Layers>
  explicit Sequential(Layers... layers) {
    (add(std::make_unique<Layers>(std::move(layers))), ...);
  }
  void add(std::unique_ptr<Layer> layer) { layers_.push_back(std::move(layer)); }
  Value operator()(Value x);
  /// Every layer's variables, layer by layer: the `wrt` of training.
  std::vector<Value> trainable_variables() const;
  const std::vector<std::unique_ptr<Layer>>& layers() const { return layers_; }

private:
  std::vector<std::unique_ptr<Layer>> layers_;
};

} // namespace sj

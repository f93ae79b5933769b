// Keras-like layers and Sequential, building graph values. A layer creates its variables the
// first time it is called, when its input shape is known, with Keras's layouts, defaults and
// stable names (`dense_0/kernel`, `dense_0/bias`, ...: checkpoints and feeds refer to them).
//
//   sj::Sequential model(sj::Dense(10, sj::Activation::relu), sj::Dense(1));
//   sj::Value pred = model(x);                      // x: f32[32,100]
//   auto vars = model.trainable_variables();        // dense_0/kernel, dense_0/bias, ...
//
// A call is in inference mode unless it says otherwise, as in Keras: the training graph calls
// `model(x, sj::CallMode::training)`, which switches on what only training does (Dropout).
#pragma once

#include "graph/builder.h"

#include <array>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace sj {

enum class Activation { linear, relu, sigmoid, tanh, gelu, softmax };
/// "relu", "linear", ...; sj::Error listing the known names otherwise.
Activation activation_named(std::string_view name);
Value activate(Value x, Activation activation, Loc loc = {});

/// How a layer is called: Keras's `training` argument. Inference is the default.
enum class CallMode { inference, training };

/// A layer: called on a value, it returns the layer's output in the same graph.
class Layer {
public:
  virtual ~Layer() = default;
  /// The layer's output; CallMode::training switches on what only training does (Dropout).
  Value operator()(Value x, CallMode mode = CallMode::inference) { return call(x, mode); }
  /// The variables the layer created in the graph of its first call (empty before), in a stable
  /// order: the trainable ones and state such as Dropout's step counter (checkpoints save both).
  /// Called on a value of another graph (an inference graph), the layer declares variables of
  /// the same names and types there, which a compiled step can share
  /// (CompileOptions::share_variables).
  const std::vector<Value>& variables() const { return variables_; }
  /// The variables training updates: variables() without the state.
  std::vector<Value> trainable_variables() const;
  const std::string& name() const { return name_; }

protected:
  virtual Value call(Value x, CallMode mode) = 0;
  /// "dense" -> "dense_0", "dense_1", ... unique in the graph; returns the number.
  int64_t name_in(Graph& g, std::string_view kind);
  Value add_variable(Graph& g, const std::string& suffix, TensorType type, const Init& init,
                     const Loc& loc, bool trainable = true);
  /// Variable i of this layer in graph g: its own, or the same-named one declared in g.
  Value variable_in(Graph& g, size_t i);
  /// The error for a layer whose state update (an assign to `state`) is already in the graph:
  /// a second training call in one graph would update it twice in one step.
  void check_not_assigned(Value state, std::string_view layer, std::string_view why) const;
  /// An error at the layer's line unless x is rank 4 (NHWC) and floating-point.
  void check_image(Value x, std::string_view what) const;

  std::string name_;
  std::vector<Value> variables_;
  std::vector<bool> trainable_; // per variable
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

private:
  Value call(Value x, CallMode mode) override;
  int64_t units_;
  Activation activation_;
  DenseOptions options_;
};

/// [batch, d1, d2, ...] -> [batch, d1 * d2 * ...].
class Flatten final : public Layer {
public:
  explicit Flatten(Loc loc = {}) { loc_ = loc; }

private:
  Value call(Value x, CallMode mode) override;
};

/// Integer ids [...] -> vectors [..., dim] from a table [vocabulary, dim] (uniform init, as
/// Keras). Out-of-range ids are a run-time error.
class Embedding final : public Layer {
public:
  Embedding(int64_t vocabulary, int64_t dim, Loc loc = {});

private:
  Value call(Value ids, CallMode mode) override;
  int64_t vocabulary_, dim_;
};

// layer_norm(x, gamma, beta, epsilon): one op of the graph, declared in graph/builder.h.

/// Normalizes the last axis: (x - mean) / sqrt(var + epsilon) * gamma + beta.
class LayerNorm final : public Layer {
public:
  explicit LayerNorm(double epsilon = 1e-3, Loc loc = {});

private:
  Value call(Value x, CallMode mode) override;
  double epsilon_;
};

/// Inverted dropout, as Keras: in training, each element of x is zeroed with probability
/// `rate` and the others are scaled by 1 / (1 - rate), so the expected value is unchanged; at
/// inference, the identity. rate must be in [0, 1).
///
/// The mask is random_uniform(counter) {seed} >= rate (graph/ops/random.cpp), where `counter`
/// is the layer's i64 variable `dropout_N/counter` and the training graph assigns it
/// counter + 1: a new mask every step, the same masks on every run with the same seed, and a
/// checkpoint (which saves the counter) resumes them exactly. The counter is not trainable.
/// Seed 0 means "the layer's number + 1", so two Dropout layers draw different masks.
class Dropout final : public Layer {
public:
  explicit Dropout(double rate, uint64_t seed = 0, Loc loc = {});

private:
  Value call(Value x, CallMode mode) override;
  double rate_;
  uint64_t seed_;
};

// ---- convolutional layers (NHWC) -----------------------------------------------------------

struct Conv2DOptions {
  std::vector<int64_t> strides = {1, 1};
  Padding padding = Padding::valid();
  std::vector<int64_t> dilation_rate = {1, 1};
  /// Input channels and filters in `groups` independent convolutions (both divisible by it).
  int64_t groups = 1;
  Activation activation = Activation::linear;
  bool use_bias = true;
  /// Seed 0 means "the layer's number + 1", as Dense. Glorot's fans of a [KH,KW,C/g,F] kernel
  /// are KH*KW*C/g and KH*KW*F, as Keras computes them.
  Init kernel_initializer = Init::glorot_uniform(0);
  Init bias_initializer = Init::zeros();
};

/// x [N,H,W,C] -> activation(conv2d(x, kernel) + bias) [N,OH,OW,filters]; variables
/// `conv2d_<i>/kernel` [KH,KW,C/groups,filters] (Keras's layout) and `conv2d_<i>/bias`.
class Conv2D final : public Layer {
public:
  Conv2D(int64_t filters, std::vector<int64_t> kernel_size, Conv2DOptions options = {},
         Loc loc = {});

private:
  Value call(Value x, CallMode mode) override;
  int64_t filters_;
  std::vector<int64_t> kernel_size_;
  Conv2DOptions options_;
};

struct DepthwiseConv2DOptions {
  /// Output channels per input channel: the result has C * depth_multiplier channels, channel
  /// c * depth_multiplier + m from input channel c.
  int64_t depth_multiplier = 1;
  std::vector<int64_t> strides = {1, 1};
  Padding padding = Padding::valid();
  std::vector<int64_t> dilation_rate = {1, 1};
  Activation activation = Activation::linear;
  bool use_bias = true;
  Init kernel_initializer = Init::glorot_uniform(0);
  Init bias_initializer = Init::zeros();
};

/// Each input channel convolved with its own depth_multiplier filters: conv2d with groups = C.
/// Variables `depthwise_conv2d_<i>/kernel` [KH,KW,C,depth_multiplier] (Keras's layout of the
/// depthwise kernel) and `depthwise_conv2d_<i>/bias` [C * depth_multiplier].
class DepthwiseConv2D final : public Layer {
public:
  explicit DepthwiseConv2D(std::vector<int64_t> kernel_size, DepthwiseConv2DOptions options = {},
                           Loc loc = {});

private:
  Value call(Value x, CallMode mode) override;
  std::vector<int64_t> kernel_size_;
  DepthwiseConv2DOptions options_;
};

struct Pooling2DOptions {
  std::vector<int64_t> strides = {}; ///< empty: pool_size (windows side by side), as Keras
  Padding padding = Padding::valid();
};

/// A pooling layer: `pool` (max_pool2d or avg_pool2d) of each pool_size window of x [N,H,W,C].
class Pooling2D : public Layer {
protected:
  using PoolFn = Value (*)(Value, const Pool2dOptions&, Loc);
  Pooling2D(const char* kind, PoolFn pool, std::vector<int64_t> pool_size, Pooling2DOptions options,
            Loc loc);

private:
  Value call(Value x, CallMode mode) override;
  const char* kind_;
  PoolFn pool_;
  std::vector<int64_t> pool_size_;
  Pooling2DOptions options_;
};

/// The maximum of each pool_size window of x [N,H,W,C]; its gradient goes to the window's first
/// maximum (row-major order), a NaN counting as the maximum.
class MaxPooling2D final : public Pooling2D {
public:
  explicit MaxPooling2D(std::vector<int64_t> pool_size = {2, 2}, Pooling2DOptions options = {},
                        Loc loc = {})
      : Pooling2D("MaxPooling2D", max_pool2d, std::move(pool_size), std::move(options), loc) {}
};

/// The mean of each pool_size window of x [N,H,W,C] over its real pixels (with `same` padding
/// the divisor counts only those, as TensorFlow).
class AveragePooling2D final : public Pooling2D {
public:
  explicit AveragePooling2D(std::vector<int64_t> pool_size = {2, 2}, Pooling2DOptions options = {},
                            Loc loc = {})
      : Pooling2D("AveragePooling2D", avg_pool2d, std::move(pool_size), std::move(options), loc) {}
};

/// [N,H,W,C] -> [N,C]: the mean over H and W.
class GlobalAveragePooling2D final : public Layer {
public:
  explicit GlobalAveragePooling2D(Loc loc = {}) { loc_ = loc; }

private:
  Value call(Value x, CallMode mode) override;
};

/// [N,H,W,C] -> [N,C]: the maximum over H and W.
class GlobalMaxPooling2D final : public Layer {
public:
  explicit GlobalMaxPooling2D(Loc loc = {}) { loc_ = loc; }

private:
  Value call(Value x, CallMode mode) override;
};

/// Zeros around the image of x [N,H,W,C]: padding = {{top, bottom}, {left, right}}.
class ZeroPadding2D final : public Layer {
public:
  explicit ZeroPadding2D(std::array<std::array<int64_t, 2>, 2> padding = {{{1, 1}, {1, 1}}},
                         Loc loc = {});

private:
  Value call(Value x, CallMode mode) override;
  std::array<std::array<int64_t, 2>, 2> padding_;
};

struct BatchNormalizationOptions {
  double momentum = 0.99;
  double epsilon = 1e-3;
  bool center = true; ///< learn an offset beta
  bool scale = true;  ///< learn a scale gamma
};

/// Normalizes each channel (the last axis) of x, as Keras's BatchNormalization. In training
/// (CallMode::training) with the batch's mean and biased variance over every other axis, and
/// it assigns moving = momentum * moving + (1 - momentum) * batch to `moving_mean` and
/// `moving_variance`; in inference with the moving statistics. Variables
/// `batch_normalization_<i>/gamma` (ones), `beta` (zeros), `moving_mean` (zeros) and
/// `moving_variance` (ones), all [C]; the moving statistics are not trainable (checkpoints save
/// them).
class BatchNormalization final : public Layer {
public:
  explicit BatchNormalization(BatchNormalizationOptions options = {}, Loc loc = {});

private:
  Value call(Value x, CallMode mode) override;
  BatchNormalizationOptions options_;
};

/// The model's input, as Keras's `Input`, when the model should declare it: as the first layer
/// of a Sequential, `model(g)` adds the input `name` of this type to g and applies the model.
/// Called on a value, it checks that the value has this type (an error naming both otherwise)
/// and passes it through.
///
///   sj::Sequential model(sj::Input({sj::DType::f32, {32, 100}}), sj::Dense(10), sj::Dense(1));
///   sj::Value pred = model(g);   // g gets input "x": f32[32,100]
class Input final : public Layer {
public:
  explicit Input(TensorType type, std::string name = "x", Loc loc = {});
  const TensorType& type() const { return type_; }
  const std::string& input_name() const { return input_name_; }

private:
  Value call(Value x, CallMode mode) override;
  TensorType type_;
  std::string input_name_;
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
  /// The layers applied in order, each in `mode`.
  Value operator()(Value x, CallMode mode = CallMode::inference);
  /// For a model whose first layer is an Input: adds that input to g and applies the model to
  /// it (an error at `loc` if the first layer is not an Input).
  Value operator()(Graph& g, CallMode mode = CallMode::inference, Loc loc = {});
  /// Every layer's trainable variables, layer by layer: the `wrt` of training.
  std::vector<Value> trainable_variables() const;
  const std::vector<std::unique_ptr<Layer>>& layers() const { return layers_; }

private:
  std::vector<std::unique_ptr<Layer>> layers_;
};

} // namespace sj

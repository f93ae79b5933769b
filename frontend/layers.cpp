#include "frontend/layers.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <numeric>
#include <optional>

namespace sj {

Activation activation_named(std::string_view name) {
  static const std::pair<std::string_view, Activation> names[] = {
      {"linear", Activation::linear}, {"relu", Activation::relu}, {"sigmoid", Activation::sigmoid},
      {"tanh", Activation::tanh},     {"gelu", Activation::gelu}, {"softmax", Activation::softmax}};
  for (const auto& [n, a] : names)
    if (n == name) return a;
  throw Error({}, fmt::format("unknown activation '{}' (known: linear, relu, sigmoid, tanh, gelu, "
                              "softmax)",
                              name));
}

Value activate(Value x, Activation activation, Loc loc) {
  switch (activation) {
  case Activation::linear:
    return x;
  case Activation::relu:
    return relu(x, loc);
  case Activation::sigmoid:
    return sigmoid(x, loc);
  case Activation::tanh:
    return tanh(x, loc);
  case Activation::gelu:
    return gelu(x, false, loc);
  case Activation::softmax:
    return softmax(x, -1, loc);
  }
  internal_error("activate: bad activation");
}

int64_t Layer::name_in(Graph& g, std::string_view kind) {
  if (!name_.empty()) return 0;
  for (int64_t k = 0;; ++k) {
    std::string candidate = fmt::format("{}_{}", kind, k);
    bool used = false;
    for (const Node& n : g.nodes())
      used = used || n.name.starts_with(candidate + "/");
    if (!used) {
      name_ = candidate;
      return k;
    }
  }
}

Value Layer::add_variable(Graph& g, const std::string& suffix, TensorType type, const Init& init,
                          const Loc& loc, bool trainable) {
  Value v = variable(g, name_ + "/" + suffix, std::move(type), init, loc);
  variables_.push_back(v);
  trainable_.push_back(trainable);
  return v;
}

std::vector<Value> Layer::trainable_variables() const {
  std::vector<Value> vars;
  for (size_t i = 0; i < variables_.size(); ++i)
    if (trainable_[i]) vars.push_back(variables_[i]);
  return vars;
}

Value Layer::variable_in(Graph& g, size_t i) {
  Value own = variables_.at(i);
  if (&own.graph() == &g) return own;
  const Node& n = own.node();
  if (auto v = g.find(n.name)) return {g, *v};
  return {g, g.add(Op::variable, {}, n.attrs, n.loc, n.name, &n.type)};
}

void Layer::check_not_assigned(Value state, std::string_view layer, std::string_view why) const {
  const Graph& g = state.graph();
  for (ValueId v : g.nodes_of(Op::assign))
    if (g.node(v).operands[0] == state.id())
      throw Error(loc_.where, fmt::format("{} '{}': called in training mode twice in one graph; {}",
                                          layer, name_, why));
}

void Layer::check_image(Value x, std::string_view what) const {
  if (x.rank() != 4 || !is_float(x.dtype()))
    throw Error(loc_.where, fmt::format("{}: needs a floating-point image batch [N, H, W, C] "
                                        "(NHWC), got {}",
                                        what, x.type().str()));
}

Dense::Dense(int64_t units, Activation activation, DenseOptions options, Loc loc)
    : units_(units), activation_(activation), options_(std::move(options)) {
  loc_ = loc;
  if (units <= 0)
    throw Error(loc.where, fmt::format("Dense: units must be positive, got {}", units));
}

Value Dense::call(Value x, CallMode) {
  if (x.rank() < 1)
    throw Error(loc_.where, fmt::format("Dense({}): the input must have a feature axis, got {}",
                                        units_, x.type().str()));
  Graph& g = x.graph();
  if (variables_.empty()) {
    int64_t k = name_in(g, "dense");
    Init kernel = options_.kernel_initializer;
    if (kernel.seed == 0) kernel.seed = k + 1;
    int64_t in = x.shape().back();
    add_variable(g, "kernel", {x.dtype(), {in, units_}}, kernel, loc_);
    if (options_.use_bias)
      add_variable(g, "bias", {x.dtype(), {units_}}, options_.bias_initializer, loc_);
  }
  // One node-building operand per call (see frontend/optimizer.cpp).
  Value rows = x.rank() == 1 ? reshape(x, {1, -1}, loc_) : x;
  Value y = matmul(rows, variable_in(g, 0), {}, loc_);
  if (options_.use_bias) y = add(y, variable_in(g, 1), loc_);
  return activate(y, activation_, loc_);
}

Value Flatten::call(Value x, CallMode) {
  if (x.rank() < 1)
    throw Error(loc_.where, fmt::format("Flatten: needs a batch axis, got {}", x.type().str()));
  return reshape(x, {x.shape()[0], -1}, loc_);
}

Embedding::Embedding(int64_t vocabulary, int64_t dim, Loc loc)
    : vocabulary_(vocabulary), dim_(dim) {
  loc_ = loc;
  if (vocabulary <= 0 || dim <= 0)
    throw Error(loc.where, fmt::format("Embedding: vocabulary and dim must be positive, got {} "
                                       "and {}",
                                       vocabulary, dim));
}

Value Embedding::call(Value ids, CallMode) {
  Graph& g = ids.graph();
  if (variables_.empty()) {
    int64_t k = name_in(g, "embedding");
    add_variable(g, "embeddings", {DType::f32, {vocabulary_, dim_}},
                 Init::uniform(-0.05, 0.05, k + 1), loc_);
  }
  return gather(variable_in(g, 0), ids, loc_);
}

LayerNorm::LayerNorm(double epsilon, Loc loc) : epsilon_(epsilon) { loc_ = loc; }

Value LayerNorm::call(Value x, CallMode) {
  if (x.rank() < 1)
    throw Error(loc_.where,
                fmt::format("LayerNorm: needs an axis to normalize, got {}", x.type().str()));
  Graph& g = x.graph();
  int64_t features = x.shape().back();
  if (variables_.empty()) {
    name_in(g, "layer_norm");
    add_variable(g, "gamma", {x.dtype(), {features}}, Init::ones(), loc_);
    add_variable(g, "beta", {x.dtype(), {features}}, Init::zeros(), loc_);
  }
  Value gamma = variable_in(g, 0); // (one node-building call per statement: see optimizer.cpp)
  Value beta = variable_in(g, 1);
  return layer_norm(x, gamma, beta, epsilon_, loc_);
}

Dropout::Dropout(double rate, uint64_t seed, Loc loc) : rate_(rate), seed_(seed) {
  loc_ = loc;
  if (!(rate >= 0 && rate < 1))
    throw Error(loc.where, fmt::format("Dropout: rate must be in [0, 1) (the fraction of "
                                       "elements dropped), got {}",
                                       rate));
}

Value Dropout::call(Value x, CallMode mode) {
  if (!is_float(x.dtype()))
    throw Error(loc_.where, fmt::format("Dropout({}): needs a floating-point input, got {}", rate_,
                                        x.type().str()));
  if (mode == CallMode::inference || rate_ == 0) return x;
  Graph& g = x.graph();
  if (variables_.empty()) {
    int64_t k = name_in(g, "dropout");
    if (seed_ == 0) seed_ = uint64_t(k) + 1;
    add_variable(g, "counter", {DType::i64, {}}, Init::zeros(), loc_, /*trainable=*/false);
  }
  Value counter = variable_in(g, 0);
  check_not_assigned(counter, "Dropout",
                     "its counter advances once per step, so both calls would draw "
                     "the same mask: use a second Dropout layer");
  // keep = u >= rate has probability 1 - rate; kept elements are scaled by 1 / (1 - rate).
  Value u = random_uniform(counter, x.type(), static_cast<int64_t>(seed_), loc_);
  Value keep = cast(greater_equal(u, scalar_like(u, rate_, loc_), loc_), x.dtype(), loc_);
  Value mask = mul(keep, scalar_like(x, 1.0 / (1.0 - rate_), loc_), loc_);
  assign(counter, add(counter, scalar_like(counter, 1, loc_), loc_), loc_);
  return mul(x, mask, loc_);
}

namespace {

// "3x3" for messages.
std::string size_str(const std::vector<int64_t>& size) {
  return fmt::format("{}", fmt::join(size, "x"));
}

void check_pair(const std::vector<int64_t>& v, std::string_view layer, std::string_view what,
                const Loc& loc) {
  if (v.size() != 2 || v[0] <= 0 || v[1] <= 0)
    throw Error(loc.where, fmt::format("{}: {} must be two positive integers [height, width], got "
                                       "[{}]",
                                       layer, what, fmt::join(v, ", ")));
}

Init seeded(Init init, int64_t layer_number) {
  if (init.seed == 0) init.seed = layer_number + 1;
  return init;
}

} // namespace

Conv2D::Conv2D(int64_t filters, std::vector<int64_t> kernel_size, Conv2DOptions options, Loc loc)
    : filters_(filters), kernel_size_(std::move(kernel_size)), options_(std::move(options)) {
  loc_ = loc;
  if (filters <= 0)
    throw Error(loc.where, fmt::format("Conv2D: filters must be positive, got {}", filters));
  check_pair(kernel_size_, "Conv2D", "kernel_size", loc);
  if (options_.groups <= 0 || filters % options_.groups != 0)
    throw Error(loc.where, fmt::format("Conv2D({}): groups = {} must be positive and divide "
                                       "filters",
                                       filters, options_.groups));
}

Value Conv2D::call(Value x, CallMode) {
  std::string what = fmt::format("Conv2D({}, {})", filters_, size_str(kernel_size_));
  check_image(x, what);
  int64_t channels = x.shape()[3];
  if (channels % options_.groups != 0)
    throw Error(loc_.where, fmt::format("{}: the input's {} channels ({}) do not split into "
                                        "groups = {}",
                                        what, channels, x.type().str(), options_.groups));
  Graph& g = x.graph();
  if (variables_.empty()) {
    int64_t k = name_in(g, "conv2d");
    add_variable(
        g, "kernel",
        {x.dtype(), {kernel_size_[0], kernel_size_[1], channels / options_.groups, filters_}},
        seeded(options_.kernel_initializer, k), loc_);
    if (options_.use_bias)
      add_variable(g, "bias", {x.dtype(), {filters_}}, options_.bias_initializer, loc_);
  }
  Conv2dOptions conv{.strides = options_.strides,
                     .padding = options_.padding,
                     .dilations = options_.dilation_rate,
                     .groups = options_.groups};
  Value y = conv2d(x, variable_in(g, 0), conv, loc_);
  if (options_.use_bias) y = add(y, variable_in(g, 1), loc_);
  return activate(y, options_.activation, loc_);
}

DepthwiseConv2D::DepthwiseConv2D(std::vector<int64_t> kernel_size, DepthwiseConv2DOptions options,
                                 Loc loc)
    : kernel_size_(std::move(kernel_size)), options_(std::move(options)) {
  loc_ = loc;
  check_pair(kernel_size_, "DepthwiseConv2D", "kernel_size", loc);
  if (options_.depth_multiplier <= 0)
    throw Error(loc.where, fmt::format("DepthwiseConv2D: depth_multiplier must be positive, got "
                                       "{}",
                                       options_.depth_multiplier));
}

Value DepthwiseConv2D::call(Value x, CallMode) {
  check_image(x, fmt::format("DepthwiseConv2D({})", size_str(kernel_size_)));
  int64_t channels = x.shape()[3], multiplier = options_.depth_multiplier;
  Graph& g = x.graph();
  if (variables_.empty()) {
    int64_t k = name_in(g, "depthwise_conv2d");
    add_variable(g, "kernel", {x.dtype(), {kernel_size_[0], kernel_size_[1], channels, multiplier}},
                 seeded(options_.kernel_initializer, k), loc_);
    if (options_.use_bias)
      add_variable(g, "bias", {x.dtype(), {channels * multiplier}}, options_.bias_initializer,
                   loc_);
  }
  // [KH,KW,C,M] row-major is [KH,KW,1,C*M] with filter c*M + m: group c's filters, in order.
  Value kernel = reshape(variable_in(g, 0),
                         {kernel_size_[0], kernel_size_[1], 1, channels * multiplier}, loc_);
  Conv2dOptions conv{.strides = options_.strides,
                     .padding = options_.padding,
                     .dilations = options_.dilation_rate,
                     .groups = channels};
  Value y = conv2d(x, kernel, conv, loc_);
  if (options_.use_bias) y = add(y, variable_in(g, 1), loc_);
  return activate(y, options_.activation, loc_);
}

Pooling2D::Pooling2D(const char* kind, PoolFn pool, std::vector<int64_t> pool_size,
                     Pooling2DOptions options, Loc loc)
    : kind_(kind), pool_(pool), pool_size_(std::move(pool_size)), options_(std::move(options)) {
  loc_ = loc;
  check_pair(pool_size_, kind, "pool_size", loc);
}

Value Pooling2D::call(Value x, CallMode) {
  check_image(x, fmt::format("{}({})", kind_, size_str(pool_size_)));
  return pool_(x, {.window = pool_size_, .strides = options_.strides, .padding = options_.padding},
               loc_);
}

Value GlobalAveragePooling2D::call(Value x, CallMode) {
  check_image(x, "GlobalAveragePooling2D");
  return reduce_mean(x, {1, 2}, false, loc_);
}

Value GlobalMaxPooling2D::call(Value x, CallMode) {
  check_image(x, "GlobalMaxPooling2D");
  return reduce_max(x, {1, 2}, false, loc_);
}

ZeroPadding2D::ZeroPadding2D(std::array<std::array<int64_t, 2>, 2> padding, Loc loc)
    : padding_(padding) {
  loc_ = loc;
  for (const auto& side : padding_)
    for (int64_t p : side)
      if (p < 0)
        throw Error(loc.where,
                    fmt::format("ZeroPadding2D: padding must be >= 0, got [[{}, {}], "
                                "[{}, {}]]",
                                padding_[0][0], padding_[0][1], padding_[1][0], padding_[1][1]));
}

Value ZeroPadding2D::call(Value x, CallMode) {
  check_image(x, "ZeroPadding2D");
  return pad(x, {0, 0, padding_[0][0], padding_[0][1], padding_[1][0], padding_[1][1], 0, 0}, 0,
             loc_);
}

BatchNormalization::BatchNormalization(BatchNormalizationOptions options, Loc loc)
    : options_(options) {
  loc_ = loc;
  if (!(options.momentum >= 0 && options.momentum <= 1) || !(options.epsilon > 0))
    throw Error(loc.where, fmt::format("BatchNormalization: momentum must be in [0, 1] and "
                                       "epsilon > 0, got momentum = {} and epsilon = {}",
                                       options.momentum, options.epsilon));
}

Value BatchNormalization::call(Value x, CallMode mode) {
  if (x.rank() < 2 || !is_float(x.dtype()))
    throw Error(loc_.where, fmt::format("BatchNormalization: needs a floating-point batch with a "
                                        "channel axis (last), got {}",
                                        x.type().str()));
  Graph& g = x.graph();
  int64_t channels = x.shape().back();
  TensorType per_channel{x.dtype(), {channels}};
  // Variable slots: gamma and beta when learned, then the two moving statistics.
  if (variables_.empty()) {
    name_in(g, "batch_normalization");
    if (options_.scale) add_variable(g, "gamma", per_channel, Init::ones(), loc_);
    if (options_.center) add_variable(g, "beta", per_channel, Init::zeros(), loc_);
    add_variable(g, "moving_mean", per_channel, Init::zeros(), loc_, /*trainable=*/false);
    add_variable(g, "moving_variance", per_channel, Init::ones(), loc_, /*trainable=*/false);
  }
  size_t slot = 0;
  std::optional<Value> gamma, beta;
  if (options_.scale) gamma = variable_in(g, slot++);
  if (options_.center) beta = variable_in(g, slot++);
  Value moving_mean = variable_in(g, slot++);
  Value moving_variance = variable_in(g, slot++);

  Value mean = moving_mean, variance = moving_variance;
  if (mode == CallMode::training) {
    check_not_assigned(moving_mean, "BatchNormalization",
                       "its moving statistics are updated once per step: use a "
                       "second BatchNormalization layer");
    std::vector<int64_t> axes(x.rank() - 1);
    std::iota(axes.begin(), axes.end(), 0);
    mean = reduce_mean(x, Axes(axes), false, loc_);
    Value centered = sub(x, mean, loc_);
    variance = reduce_mean(square(centered, loc_), Axes(axes), false, loc_);
    // moving = momentum * moving + (1 - momentum) * batch, as Keras.
    auto update = [&](Value moving, Value batch) {
      Value kept = mul(moving, scalar_like(moving, options_.momentum, loc_), loc_);
      Value added = mul(batch, scalar_like(batch, 1 - options_.momentum, loc_), loc_);
      assign(moving, add(kept, added, loc_), loc_);
    };
    update(moving_mean, mean);
    update(moving_variance, variance);
  }
  Value inv = rsqrt(add(variance, scalar_like(variance, options_.epsilon, loc_), loc_), loc_);
  if (gamma) inv = mul(inv, *gamma, loc_);
  Value y = mul(sub(x, mean, loc_), inv, loc_);
  return beta ? add(y, *beta, loc_) : y;
}

Input::Input(TensorType type, std::string name, Loc loc)
    : type_(std::move(type)), input_name_(std::move(name)) {
  loc_ = loc;
}

Value Input::call(Value x, CallMode) {
  if (x.type() != type_)
    throw Error(loc_.where, fmt::format("Input({}): the model was called on {}, a {}; the Input "
                                        "layer declares {}",
                                        type_.str(), value_label(x.graph(), x.id()), x.type().str(),
                                        type_.str()));
  return x;
}

Value Sequential::operator()(Graph& g, CallMode mode, Loc loc) {
  auto* first = layers_.empty() ? nullptr : dynamic_cast<Input*>(layers_.front().get());
  if (!first)
    throw Error(loc.where, "Sequential: calling a model on a graph needs an Input layer first "
                           "(sj::Input(type)), to say what the model's input is; or call the "
                           "model on an input value");
  return (*this)(input(g, first->input_name(), first->type(), loc), mode);
}

Value Sequential::operator()(Value x, CallMode mode) {
  for (const auto& layer : layers_)
    x = (*layer)(x, mode);
  return x;
}

std::vector<Value> Sequential::trainable_variables() const {
  std::vector<Value> vars;
  for (const auto& layer : layers_) {
    std::vector<Value> own = layer->trainable_variables();
    vars.insert(vars.end(), own.begin(), own.end());
  }
  return vars;
}

} // namespace sj

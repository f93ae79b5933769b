#include "frontend/layers.h"

#include <fmt/format.h>

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
  Value mean = reduce_mean(x, {-1}, true, loc_);
  Value centered = sub(x, mean, loc_);
  Value var = reduce_mean(square(centered, loc_), {-1}, true, loc_);
  Value normalized =
      mul(centered, rsqrt(add(var, scalar_like(var, epsilon_, loc_), loc_), loc_), loc_);
  Value scaled = mul(normalized, variable_in(g, 0), loc_);
  return add(scaled, variable_in(g, 1), loc_);
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
  for (ValueId v : g.nodes_of(Op::assign))
    if (g.node(v).operands[0] == counter.id())
      throw Error(loc_.where,
                  fmt::format("Dropout '{}': called in training mode twice in one graph; its "
                              "counter advances once per step, so both calls would draw the "
                              "same mask: use a second Dropout layer",
                              name_));
  // keep = u >= rate has probability 1 - rate; kept elements are scaled by 1 / (1 - rate).
  Value u = random_uniform(counter, x.type(), static_cast<int64_t>(seed_), loc_);
  Value keep = cast(greater_equal(u, scalar_like(u, rate_, loc_), loc_), x.dtype(), loc_);
  Value mask = mul(keep, scalar_like(x, 1.0 / (1.0 - rate_), loc_), loc_);
  assign(counter, add(counter, scalar_like(counter, 1, loc_), loc_), loc_);
  return mul(x, mask, loc_);
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

#include "tools/common.h"

#include "frontend/gradients.h"
#include "frontend/losses.h"
#include "graph/format_number.h"
#include "graph/parse.h"
#include "graph/verify.h"
#include "runtime/checkpoint.h"
#include "runtime/file_util.h"
#include "runtime/npy.h"
#include "runtime/summary.h"

#include <cmath>
#include <filesystem>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <iostream>
#include <sstream>
#include <tuple>
#include <unistd.h>

namespace sj::cli {

std::string read_text(const std::string& path) {
  if (path == "-")
    return sj::read_stream_text(STDIN_FILENO, "<stdin>", kMaxGraphTextBytes, "text IR file");
  return sj::read_file_text(path, kMaxGraphTextBytes, "text IR file");
}

void create_directory(const std::string& dir, const char* flag) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec)
    throw sj::Error({dir, 0, 0},
                    fmt::format("{}: cannot create the directory: {}", flag, ec.message()));
}

sj::Graph load(const std::string& path) {
  sj::Graph g = sj::parse(read_text(path), path == "-" ? "<stdin>" : path);
  sj::verify(g);
  return g;
}

// `name=path` pairs of --input / --save.
std::map<std::string, std::string> name_path_pairs(const std::vector<std::string>& items,
                                                   const char* flag) {
  std::map<std::string, std::string> r;
  for (const std::string& item : items) {
    auto eq = item.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == item.size())
      throw sj::Error({}, fmt::format("{} '{}': expected NAME=FILE.npy", flag, item));
    if (!r.emplace(item.substr(0, eq), item.substr(eq + 1)).second)
      throw sj::Error({}, fmt::format("{}: '{}' is given twice", flag, item.substr(0, eq)));
  }
  return r;
}

// `name: f32[2,2] = [...]`, eliding the middle of long tensors unless `full`.
std::string describe(const std::string& name, const sj::Tensor& t, bool full) {
  constexpr int64_t kShown = 8;
  std::string all = sj::format_tensor_values(t);
  bool splat = all.empty() || all.front() != '[';
  if (full || splat || t.num_elements() <= 2 * kShown)
    return fmt::format("{}: {} = {}", name, t.type().str(), all);
  std::string head, tail;
  for (int64_t i = 0; i < kShown; ++i) {
    head += fmt::format("{}{}", i ? ", " : "", sj::format_number(t.as_double(i)));
    tail += fmt::format(", {}", sj::format_number(t.as_double(t.num_elements() - kShown + i)));
  }
  return fmt::format("{}: {} = [{}, ...{}] ({} elements; --full prints all)", name, t.type().str(),
                     head, tail, t.num_elements());
}

// The loss output named by --loss.
sj::ValueId loss_value(const sj::Graph& g, const GradientRequest& request) {
  auto loss = g.output(request.loss);
  if (loss) return *loss;
  std::vector<std::string> names;
  for (const sj::Output& o : g.outputs())
    names.push_back(o.name);
  throw sj::Error({},
                  fmt::format("--loss {}: graph '{}' has no output named '{}' (its outputs: {})",
                              request.loss, g.name(), request.loss,
                              names.empty() ? "none" : fmt::format("{}", fmt::join(names, ", "))));
}

// The values named by --wrt: all-variables, or a comma-separated list of names. All variables
// means the trainable ones: floating-point, and not assigned by the graph itself (state it
// updates on its own, such as a Dropout counter or a batch norm's moving statistics).
std::vector<sj::ValueId> wrt_values(const sj::Graph& g, const GradientRequest& request) {
  if (request.wrt == "all-variables") return sj::trainable_variables(g);
  std::vector<sj::ValueId> wrt;
  std::stringstream list(request.wrt);
  for (std::string name; std::getline(list, name, ',');) {
    auto v = g.find(name);
    if (!v)
      throw sj::Error({}, fmt::format("--wrt: graph '{}' has no value named '{}'", g.name(), name));
    wrt.push_back(*v);
  }
  return wrt;
}

// Appends the gradient graph of `request` to `g`, with one output `grad.<name>` per gradient.
void add_gradients(sj::Graph& g, const GradientRequest& request) {
  std::vector<sj::ValueId> wrt = wrt_values(g, request);
  sj::GradientOptions options;
  if (request.zero_unconnected) options.unconnected = sj::Unconnected::zero;
  auto grads = sj::differentiate(g, loss_value(g, request), wrt, options);
  for (size_t i = 0; i < wrt.size(); ++i) {
    const std::string& name = g.node(wrt[i]).name;
    g.add_output("grad." + (name.empty() ? std::to_string(wrt[i]) : name), grads[i]);
  }
}

// Appends the training step: gradients of the loss, then the optimizer's update of every
// variable in `wrt` (all variables by default).
void add_training_step(sj::Graph& g, const GradientRequest& request,
                       const sj::OptimizerSpec& spec) {
  std::vector<sj::Value> vars;
  for (sj::ValueId v : wrt_values(g, request))
    vars.emplace_back(g, v);
  auto optimizer = sj::make_optimizer(spec);
  optimizer->minimize(sj::Value(g, loss_value(g, request)), vars);
}

// The step the compile stages work on: the training step when asked for one (--stage=train or
// an explicit --optimizer), else the graph with its gradients (--stage=grad), else the graph.
sj::Graph build_step(sj::Graph g, const std::string& stage, bool training,
                     const GradientRequest& request, const sj::OptimizerSpec& spec) {
  if (stage == "train" || training)
    add_training_step(g, request, spec);
  else if (stage == "grad")
    add_gradients(g, request);
  sj::verify(g);
  return g;
}

Runner::Runner(const sj::Graph& g, bool interpret, bool verbose, int threads, bool check_numerics) {
  if (interpret) {
    interpreter.emplace(g);
    interpreter->set_check_numerics(check_numerics);
    return;
  }
  compiled.emplace(
      sj::CompiledStep::compile(g, {.threads = threads, .check_numerics = check_numerics}));
  if (verbose)
    std::cerr << fmt::format("compiled in {:.1f} ms{}; arena {} bytes (lower bound {})\n",
                             compiled->compile_ms(), compiled->reused_code() ? " (cached)" : "",
                             compiled->arena_bytes(), compiled->arena_lower_bound_bytes());
}

std::map<std::string, sj::Tensor> read_feeds(const sj::Graph& g,
                                             const std::vector<std::string>& inputs) {
  std::map<std::string, sj::Tensor> feeds;
  for (const auto& [name, path] : name_path_pairs(inputs, "--input")) {
    if (!g.find(name) || g.node(*g.find(name)).op != sj::Op::input) {
      std::vector<std::string> names;
      for (sj::ValueId v : g.nodes_of(sj::Op::input))
        names.push_back(g.node(v).name);
      throw sj::Error(
          {}, fmt::format("--input {}: graph '{}' has no input named '{}' (its "
                          "inputs: {})",
                          name, g.name(), name,
                          names.empty() ? "none" : fmt::format("{}", fmt::join(names, ", "))));
    }
    feeds.emplace(name, sj::read_npy(path));
  }
  return feeds;
}

void print_variables(const sj::Graph& g, const Runner& runner, bool full) {
  for (sj::ValueId v : g.nodes_of(sj::Op::variable)) {
    const std::string& name = g.node(v).name;
    std::cout << "variable " << describe(name, runner.variable(name), full) << "\n";
  }
}

namespace {

// "a, b, c" for up to `shown` names, then "and N more".
std::string name_list(const std::vector<std::string>& names, size_t shown = 8) {
  std::vector<std::string> head(names.begin(), names.begin() + std::min(shown, names.size()));
  std::string s = fmt::format("{}", fmt::join(head, ", "));
  if (names.size() > shown) s += fmt::format(" and {} more", names.size() - shown);
  return s;
}

} // namespace

void load_initial(Runner& runner, const std::string& path) {
  if (path.empty()) return;
  auto tensors = sj::read_safetensors(path);
  std::vector<std::string> loaded, kept;
  for (const auto& [name, t] : runner.variables().all())
    (tensors.count(name) ? loaded : kept).push_back(name);
  size_t in_file = tensors.size();
  sj::load_checkpoint(path, runner.variables(), {.partial = true, .ignore_extra = true});
  std::cout << fmt::format("loaded {} of {} variables from {}{}: {}\n", loaded.size(),
                           runner.variables().all().size(), path,
                           in_file > loaded.size()
                               ? fmt::format(" ({} other tensors skipped)", in_file - loaded.size())
                               : "",
                           loaded.empty() ? "none" : name_list(loaded));
  if (!kept.empty()) std::cout << fmt::format("kept their initial values: {}\n", name_list(kept));
}

void load_initial(Runner& runner, const std::string& path, const sj::OptimizerSpec& spec) {
  if (path.empty()) return;
  // Each flag and the hyperparameter variable it sets, "<optimizer>/<name>" (a scalar).
  const std::tuple<const char*, const char*, const std::optional<double>*> flags[] = {
      {"lr", "learning_rate", &spec.learning_rate},
      {"momentum", "momentum", &spec.momentum},
      {"weight-decay", "weight_decay", &spec.weight_decay},
      {"dampening", "dampening", &spec.dampening},
      {"beta1", "beta1", &spec.beta1},
      {"beta2", "beta2", &spec.beta2},
      {"eps", "epsilon", &spec.epsilon},
      {"alpha", "alpha", &spec.alpha},
      {"lr-decay", "lr_decay", &spec.lr_decay}};
  struct Hyper {
    std::string variable;
    const char* flag;
    bool given;
    double built; // the value the flag or the optimizer's default gave
  };
  std::vector<Hyper> hypers;
  for (const auto& [name, t] : runner.variables().all())
    for (const auto& [flag, hyper, value] : flags)
      if (t.rank() == 0 && sj::is_float(t.dtype()) && name.ends_with(std::string("/") + hyper))
        hypers.push_back({name, flag, value->has_value(), t.as_double(0)});
  load_initial(runner, path);
  for (const Hyper& h : hypers) {
    const sj::Tensor& now = runner.variable(h.variable);
    if (now.as_double(0) == h.built) continue;
    if (!h.given) {
      std::cout << fmt::format("{} = {:.7g} from the checkpoint (--{} overrides it)\n", h.variable,
                               now.as_double(0), h.flag);
      continue;
    }
    std::cout << fmt::format("--{} {:.7g} overrides the checkpoint's {} = {:.7g}\n", h.flag,
                             h.built, h.variable, now.as_double(0));
    sj::Tensor value(now.type());
    if (value.dtype() == sj::DType::f32) value.data<float>()[0] = float(h.built);
    if (value.dtype() == sj::DType::f64) value.data<double>()[0] = h.built;
    runner.variables().set(h.variable, std::move(value));
  }
}

sj::Tensor rows_of(const sj::Tensor& t, int64_t begin, int64_t rows) {
  sj::Shape shape = t.shape();
  int64_t row_bytes = int64_t(t.type().byte_size()) / std::max<int64_t>(shape[0], 1);
  shape[0] = rows;
  sj::Tensor r({t.dtype(), shape});
  int64_t have = std::clamp<int64_t>(t.shape()[0] - begin, 0, rows);
  std::copy_n(t.bytes().begin() + begin * row_bytes, have * row_bytes, r.bytes().begin());
  return r;
}

sj::Tensor to_input_dtype(sj::Tensor data, sj::DType want, const std::string& flag,
                          const std::string& path, const std::string& input) {
  sj::DType have = data.dtype();
  if (have == want || have == sj::DType::boolean || want == sj::DType::boolean) return data;
  std::string fix = fmt::format("np.save('{}', np.load('{}').astype(np.{}))", path, path,
                                want == sj::DType::f32   ? "float32"
                                : want == sj::DType::f64 ? "float64"
                                : want == sj::DType::i32 ? "int32"
                                                         : "int64");
  auto refuse = [&](int64_t i, const std::string& why) {
    throw sj::Error({path},
                    fmt::format("{}: element {} is {}: {} for the model's {} input '{}' "
                                "(the file is {}); fix the data, or convert it yourself: {}",
                                flag, i, sj::format_number(data.as_double(i)), why,
                                sj::dtype_name(want), input, sj::dtype_name(have), fix));
  };
  sj::Tensor out({want, data.shape()});
  for (int64_t i = 0; i < data.num_elements(); ++i) {
    double v = data.as_double(i);
    if (sj::is_float(want)) {
      if (want == sj::DType::f32 && std::isfinite(v) && std::abs(v) > 3.4028234663852886e38)
        refuse(i, "it overflows f32");
      if (want == sj::DType::f32)
        out.data<float>()[i] = float(v);
      else
        out.data<double>()[i] = v;
      continue;
    }
    // Integer labels: from integer-valued floats, or i64 in i32's range.
    if (!std::isfinite(v) || v != std::floor(v)) refuse(i, "not an integer");
    double lo = want == sj::DType::i32 ? -2147483648.0 : -9223372036854775808.0;
    double hi = want == sj::DType::i32 ? 2147483647.0 : 9223372036854775807.0;
    if (v < lo || v > hi) refuse(i, fmt::format("out of {}'s range", sj::dtype_name(want)));
    int64_t n = sj::is_float(have) ? int64_t(v) : data.as_int64(i);
    if (want == sj::DType::i32)
      out.data<int32_t>()[i] = int32_t(n);
    else
      out.data<int64_t>()[i] = n;
  }
  std::cerr << fmt::format("note: {} {} is {}; converted to the model's {} input '{}' ({} "
                           "avoids the conversion)\n",
                           flag, path, sj::dtype_name(have), sj::dtype_name(want), input, fix);
  return out;
}

std::pair<std::string, std::string> prepare_loss(sj::Graph& g, GradientRequest& request,
                                                 sj::DType labels) {
  auto inputs = g.nodes_of(sj::Op::input);
  bool kind = std::find(kLossKinds.begin(), kLossKinds.end(), request.loss) != kLossKinds.end();
  if (!kind) {
    if (inputs.size() != 2)
      throw sj::Error({}, fmt::format("train --x/--y: graph '{}' must have two inputs (features "
                                      "and labels) and an output '{}', or use --loss=KIND "
                                      "(one of: {}) to build the loss from its prediction",
                                      g.name(), request.loss, fmt::join(kLossKinds, ", ")));
    const std::string& a = g.node(inputs[0]).name;
    const std::string& b = g.node(inputs[1]).name;
    bool b_is_labels = b == "y" || b == "labels" || !(a == "y" || a == "labels");
    return b_is_labels ? std::pair{a, b} : std::pair{b, a};
  }
  if (inputs.size() != 1)
    throw sj::Error({}, fmt::format("--loss={}: the model must have one input (the "
                                    "features), graph '{}' has {}",
                                    request.loss, g.name(), inputs.size()));
  auto pred_id = g.output("pred")      ? *g.output("pred")
                 : g.outputs().empty() ? sj::ValueId(-1)
                                       : g.outputs()[0].value;
  if (pred_id == sj::ValueId(-1)) throw sj::Error({}, "--loss: the model has no output");
  sj::Value pred(g, pred_id);
  if (pred.rank() == 0)
    throw sj::Error({}, fmt::format("--loss={}: the prediction '{}' is {}; a loss needs one "
                                    "row per example [batch, ...]",
                                    request.loss, g.node(pred_id).name, pred.type().str()));
  sj::Shape label_shape = pred.shape();
  sj::DType label_dtype = pred.dtype();
  if (request.loss == "sparse_ce") {
    label_shape.pop_back();
    label_dtype = sj::is_int(labels) ? labels : sj::DType::i32;
  }
  sj::Value y = sj::input(g, "y", {label_dtype, label_shape});
  sj::Value loss = request.loss == "mse"          ? sj::mean_squared_error(pred, y)
                   : request.loss == "mae"        ? sj::mean_absolute_error(pred, y)
                   : request.loss == "bce_logits" ? sj::binary_crossentropy_from_logits(pred, y)
                   : request.loss == "ce"
                       ? sj::categorical_crossentropy_from_logits(pred, y)
                       : sj::sparse_categorical_crossentropy_from_logits(pred, y);
  request.loss = "loss";
  if (g.output("loss"))
    throw sj::Error({}, "--loss=KIND: the model already has an output 'loss'; drop --loss "
                        "to train on it");
  sj::output("loss", loss);
  return {g.node(inputs[0]).name, "y"};
}

} // namespace sj::cli

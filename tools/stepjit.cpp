// The stepjit command-line tool.
//
//   stepjit check FILE                        parse and verify; print diagnostics
//   stepjit dump FILE --stage=STAGE           print one stage of the pipeline (or --dump-dir)
//   stepjit eval FILE --input x=x.npy ...     run a graph (compiled; --interpret for the oracle)
//   stepjit train FILE --input ... --steps N  build the training step and run it N times
//   stepjit train MODEL --x X.npy --y Y.npy --loss=mse --epochs E [--shuffle]   mini-batches
//   stepjit predict FILE --weights CKPT --x X.npy -o Y.npy   run a model on trained weights
//   stepjit ops [--markdown]                  list the op table
//
// Exit status: 0 on success, 1 when the input is wrong (a diagnostic is printed), 2 on a bad
// command line.
#include "codegen/host_cpu.h"
#include "frontend/gradients.h"
#include "frontend/losses.h"
#include "frontend/optimizers.h"
#include "graph/dot.h"
#include "graph/format_number.h"
#include "graph/op_docs.h"
#include "graph/parse.h"
#include "graph/print.h"
#include "graph/verify.h"
#include "runtime/batcher.h"
#include "runtime/checkpoint.h"
#include "runtime/compiled_step.h"
#include "runtime/interpreter.h"
#include "runtime/npy.h"

#include <CLI/CLI.hpp>
#include <filesystem>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <optional>
#include <sstream>

namespace {

std::string read_text(const std::string& path) {
  if (path == "-")
    return {std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>()};
  std::ifstream in(path, std::ios::binary);
  if (!in) throw sj::Error({path, 0, 0}, fmt::format("cannot open '{}' for reading", path));
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
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

int run_ops(bool markdown) {
  if (markdown) {
    std::cout << sj::ops_markdown();
    return 0;
  }
  for (sj::Op op : sj::kAllOps) {
    const sj::OpDef& d = sj::op_def(op);
    std::cout << fmt::format("{:<22} {}\n", d.name, d.summary);
  }
  return 0;
}

int run_check(const std::string& file) {
  sj::Graph g = load(file);
  std::vector<std::string> outputs;
  for (const sj::Output& o : g.outputs())
    outputs.push_back(o.name);
  std::cout << fmt::format(
      "{}: ok: graph '{}', {} nodes, {} inputs, {} variables, outputs: {}\n", file, g.name(),
      g.size(), g.nodes_of(sj::Op::input).size(), g.nodes_of(sj::Op::variable).size(),
      outputs.empty() ? "(none)" : fmt::format("{}", fmt::join(outputs, ", ")));
  return 0;
}

// What `--stage=grad` differentiates: the loss output and the values named by --wrt.
struct GradientRequest {
  std::string loss = "loss";
  std::string wrt = "all-variables";
  bool zero_unconnected = false;
};

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

// The values named by --wrt: all-variables, or a comma-separated list of names.
std::vector<sj::ValueId> wrt_values(const sj::Graph& g, const GradientRequest& request) {
  if (request.wrt == "all-variables") return g.nodes_of(sj::Op::variable);
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

// The stages `dump` knows, in pipeline order.
const std::vector<std::string> kStages = {"graph", "dot",    "grad", "train",    "simplified",
                                          "fused", "memory", "llvm", "llvm-opt", "asm"};

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

int run_dump(const std::string& file, const std::string& stage, bool training,
             const std::string& dump_dir, const GradientRequest& request,
             const sj::OptimizerSpec& spec) {
  sj::Graph parsed = load(file);
  sj::Graph step = build_step(parsed, stage, training, request, spec);
  std::vector<sj::StageText> stages{{"graph", "01-graph.sj", sj::print(parsed)},
                                    {"step", "02-grad.sj", sj::print(step)}};
  bool compile = !dump_dir.empty() ||
                 (stage != "graph" && stage != "dot" && stage != "grad" && stage != "train");
  if (compile) sj::CompiledStep::compile(step, {.stages = &stages});
  if (!dump_dir.empty()) {
    std::filesystem::create_directories(dump_dir);
    for (const sj::StageText& s : stages) {
      std::ofstream out(std::filesystem::path(dump_dir) / s.file);
      out << s.text;
      if (!out)
        throw sj::Error({}, fmt::format("--dump-dir: cannot write '{}/{}'", dump_dir, s.file));
    }
    std::cout << fmt::format("wrote {} stages to {}\n", stages.size(), dump_dir);
    return 0;
  }
  if (stage == "dot") {
    std::cout << sj::to_dot(step);
    return 0;
  }
  if (stage == "graph") {
    std::cout << sj::print(parsed);
    return 0;
  }
  if (stage == "grad" || stage == "train") {
    std::cout << sj::print(step);
    return 0;
  }
  for (const sj::StageText& s : stages)
    if (s.stage == stage) std::cout << s.text;
  return 0;
}

// The interpreter or a compiled step, behind one face.
struct Runner {
  std::optional<sj::Interpreter> interpreter;
  std::optional<sj::CompiledStep> compiled;

  Runner(const sj::Graph& g, bool interpret, bool verbose) {
    if (interpret) {
      interpreter.emplace(g);
      return;
    }
    compiled.emplace(sj::CompiledStep::compile(g));
    if (verbose)
      std::cerr << fmt::format("compiled in {:.1f} ms{}; arena {} bytes (lower bound {})\n",
                               compiled->compile_ms(), compiled->reused_code() ? " (cached)" : "",
                               compiled->arena_bytes(), compiled->arena_lower_bound_bytes());
  }
  std::map<std::string, sj::Tensor> run(const std::map<std::string, sj::Tensor>& feeds) {
    return interpreter ? interpreter->run(feeds) : compiled->run(feeds);
  }
  const sj::Tensor& variable(const std::string& name) const {
    return interpreter ? interpreter->variable(name) : compiled->variable(name);
  }
  sj::Variables& variables() {
    return interpreter ? interpreter->variables() : compiled->variables();
  }
};

// The feeds named by --input NAME=FILE.npy, checked against the graph's inputs.
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

// --init: load the variables the checkpoint holds (e.g. weights without optimizer slots); the
// others keep their initializers.
// Checkpoint tensors that are not variables of this graph (a training checkpoint's optimizer
// state, read by an inference graph) are skipped, and said so.
void load_initial(Runner& runner, const std::string& path) {
  if (path.empty()) return;
  auto tensors = sj::read_safetensors(path);
  size_t loaded = 0;
  for (const auto& [name, t] : tensors)
    loaded += runner.variables().all().count(name);
  size_t in_file = tensors.size();
  sj::load_checkpoint(path, runner.variables(), {.partial = true, .ignore_extra = true});
  std::cout << fmt::format(
      "loaded {} of {} variables from {}{}\n", loaded, runner.variables().all().size(), path,
      in_file > loaded ? fmt::format(" ({} other tensors skipped)", in_file - loaded) : "");
}

struct CheckpointFlags {
  std::string init, save;
};

int run_train(const std::string& file, const std::vector<std::string>& inputs, int steps,
              bool interpret, bool verbose, bool full, bool show_variables,
              const GradientRequest& request, const sj::OptimizerSpec& spec,
              const CheckpointFlags& checkpoints) {
  sj::Graph g = build_step(load(file), "train", true, request, spec);
  auto feeds = read_feeds(g, inputs);
  Runner runner(g, interpret, verbose);
  load_initial(runner, checkpoints.init);
  double first = 0, last = 0;
  for (int step = 1; step <= steps; ++step) {
    auto outputs = runner.run(feeds);
    last = outputs.at(request.loss).as_double(0);
    if (step == 1) first = last;
    std::cout << fmt::format("step {:>4}  {} {:.7g}\n", step, request.loss, last);
  }
  std::cout << fmt::format("{} {:.7g} -> {:.7g} over {} steps ({})\n", request.loss, first, last,
                           steps, interpret ? "interpreter" : "compiled");
  if (show_variables) print_variables(g, runner, full);
  if (!checkpoints.save.empty()) {
    sj::save_checkpoint(checkpoints.save, runner.variables());
    std::cout << fmt::format("saved {} variables to {}\n", runner.variables().all().size(),
                             checkpoints.save);
  }
  return 0;
}

// `train --x X.npy --y Y.npy`: mini-batches from arrays.
struct DataFlags {
  std::string x, y;
  int64_t batch = 0;
  int epochs = 0;
  bool shuffle = false;
  uint64_t seed = 0;
};

const std::vector<std::string> kLossKinds = {"mse", "mae", "bce_logits", "sparse_ce", "ce"};

// With a loss kind, the loss of the file's prediction against a new labels input "y"; without,
// the file's own output `loss` and its labels input (the input other than the features).
// Returns {features input, labels input}.
std::pair<std::string, std::string> prepare_loss(sj::Graph& g, GradientRequest& request,
                                                 const sj::Tensor& labels) {
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
    throw sj::Error({}, fmt::format("train --loss={}: the model must have one input (the "
                                    "features), graph '{}' has {}",
                                    request.loss, g.name(), inputs.size()));
  auto pred_id = g.output("pred")      ? *g.output("pred")
                 : g.outputs().empty() ? sj::ValueId(-1)
                                       : g.outputs()[0].value;
  if (pred_id == sj::ValueId(-1)) throw sj::Error({}, "train --loss: the model has no output");
  sj::Value pred(g, pred_id);
  if (pred.rank() == 0)
    throw sj::Error({}, fmt::format("train --loss={}: the prediction '{}' is {}; a loss needs one "
                                    "row per example [batch, ...]",
                                    request.loss, g.node(pred_id).name, pred.type().str()));
  sj::Shape label_shape = pred.shape();
  sj::DType label_dtype = pred.dtype();
  if (request.loss == "sparse_ce") {
    label_shape.pop_back();
    label_dtype = sj::is_int(labels.dtype()) ? labels.dtype() : sj::DType::i32;
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
    throw sj::Error({}, "train --loss=KIND: the model already has an output 'loss'; drop --loss "
                        "to train on it");
  sj::output("loss", loss);
  return {g.node(inputs[0]).name, "y"};
}

int run_train_data(const std::string& file, const DataFlags& data, int steps, bool interpret,
                   bool verbose, GradientRequest request, const sj::OptimizerSpec& spec,
                   const CheckpointFlags& checkpoints) {
  sj::Graph g = load(file);
  sj::Tensor x = sj::read_npy(data.x), y = sj::read_npy(data.y);
  auto [x_name, y_name] = prepare_loss(g, request, y);
  sj::TensorType x_type = g.type(*g.find(x_name));
  if (x_type.rank() == 0)
    throw sj::Error({}, fmt::format("train --x: the model's input '{}' is {}; mini-batches need "
                                    "a batch dimension first",
                                    x_name, x_type.str()));
  int64_t batch = x_type.shape[0];
  if (data.batch != 0 && data.batch != batch)
    throw sj::Error({}, fmt::format("--batch {}: the model's input '{}' is {}: shapes are static, "
                                    "so the batch is the model's first dimension ({})",
                                    data.batch, x_name, x_type.str(), batch));
  // Labels of a float loss may come as a vector for a [batch, 1] prediction.
  sj::TensorType y_type = g.type(*g.find(y_name));
  if (y.rank() + 1 == y_type.rank() && y_type.shape.back() == 1 && y.dtype() == y_type.dtype) {
    sj::Shape s = y.shape();
    s.push_back(1);
    sj::Tensor r({y.dtype(), s});
    std::copy(y.bytes().begin(), y.bytes().end(), r.bytes().begin());
    y = std::move(r);
  }
  sj::Batcher batcher(std::move(x), std::move(y),
                      {.batch_size = batch, .shuffle = data.shuffle, .seed = data.seed});
  int64_t per_epoch = batcher.batches_per_epoch();
  int64_t total = data.epochs > 0 ? data.epochs * per_epoch : steps;
  g = build_step(std::move(g), "train", true, request, spec);
  Runner runner(g, interpret, verbose);
  load_initial(runner, checkpoints.init);
  double epoch_sum = 0;
  for (int64_t step = 0; step < total; ++step) {
    int64_t epoch = step / per_epoch, index = step % per_epoch;
    auto [bx, by] = batcher.batch(epoch, index);
    double loss =
        runner.run({{x_name, std::move(bx)}, {y_name, std::move(by)}}).at("loss").as_double(0);
    epoch_sum += loss;
    if (verbose) std::cout << fmt::format("step {:>5}  loss {:.7g}\n", step + 1, loss);
    if (index + 1 == per_epoch || step + 1 == total) {
      std::cout << fmt::format("epoch {:>3}  mean loss {:.7g}\n", epoch + 1,
                               epoch_sum / double(index + 1));
      epoch_sum = 0;
    }
  }
  if (!checkpoints.save.empty()) {
    sj::save_checkpoint(checkpoints.save, runner.variables());
    std::cout << fmt::format("saved {} variables to {}\n", runner.variables().all().size(),
                             checkpoints.save);
  }
  return 0;
}

// predict: the model's one input fed from --x, the chosen output written to -o.
int run_predict(const std::string& file, const std::string& weights, const std::string& x_path,
                const std::string& out_path, std::string output, bool interpret, bool verbose) {
  sj::Graph g = load(file);
  auto inputs = g.nodes_of(sj::Op::input);
  if (inputs.size() != 1)
    throw sj::Error({}, fmt::format("predict: graph '{}' has {} inputs; predict feeds exactly one "
                                    "(use `stepjit eval -i NAME=FILE.npy` for several)",
                                    g.name(), inputs.size()));
  if (output.empty())
    output = g.output("pred") ? "pred" : g.outputs().empty() ? "" : g.outputs()[0].name;
  if (!g.output(output))
    throw sj::Error({},
                    fmt::format("predict: graph '{}' has no output named '{}'", g.name(), output));
  Runner runner(g, interpret, verbose);
  load_initial(runner, weights);
  auto outputs = runner.run({{g.node(inputs[0]).name, sj::read_npy(x_path)}});
  sj::write_npy(out_path, outputs.at(output));
  std::cout << fmt::format("wrote {} {} to {}\n", output, outputs.at(output).type().str(),
                           out_path);
  return 0;
}

int run_eval(const std::string& file, const std::vector<std::string>& inputs,
             const std::vector<std::string>& saves, int steps, bool full, bool show_variables,
             bool interpret, bool verbose) {
  sj::Graph g = load(file);
  auto feeds = read_feeds(g, inputs);
  auto save_paths = name_path_pairs(saves, "--save");
  for (const auto& [name, path] : save_paths)
    if (!g.output(name))
      throw sj::Error(
          {}, fmt::format("--save {}: graph '{}' has no output named '{}'", name, g.name(), name));
  Runner runner(g, interpret, verbose);
  std::map<std::string, sj::Tensor> outputs;
  for (int step = 0; step < steps; ++step) {
    outputs = runner.run(feeds);
    if (steps > 1) std::cout << fmt::format("step {}:\n", step + 1);
    for (const auto& [name, t] : outputs)
      std::cout << (steps > 1 ? "  " : "") << describe(name, t, full) << "\n";
  }
  if (show_variables) print_variables(g, runner, full);
  for (const auto& [name, path] : save_paths)
    sj::write_npy(path, outputs.at(name));
  return 0;
}

// The optimizer flags shared by every command that builds a training step.
CLI::Option* add_optimizer_options(CLI::App* cmd, sj::OptimizerSpec& spec) {
  CLI::Option* name =
      cmd->add_option("--optimizer", spec.name, "sgd, adam, adamw, rmsprop or adagrad")
          ->check(CLI::IsMember({"sgd", "adam", "adamw", "rmsprop", "adagrad"}))
          ->capture_default_str();
  cmd->add_option("--lr", spec.learning_rate, "learning rate (default: the optimizer's)");
  cmd->add_option("--momentum", spec.momentum, "momentum (sgd, rmsprop)");
  cmd->add_option("--weight-decay", spec.weight_decay, "weight decay");
  cmd->add_flag_callback(
      "--keras", [&spec] { spec.flavor = sj::Flavor::keras; },
      "Keras's formulas and defaults instead of PyTorch's");
  cmd->add_option("--dampening", spec.dampening, "momentum dampening (sgd)");
  cmd->add_flag("--nesterov", spec.nesterov, "Nesterov momentum (sgd)");
  cmd->add_option("--beta1", spec.beta1, "first-moment decay (adam, adamw)");
  cmd->add_option("--beta2", spec.beta2, "second-moment decay (adam, adamw)");
  cmd->add_option("--eps", spec.epsilon, "epsilon (adam, adamw, rmsprop, adagrad)");
  cmd->add_flag("--amsgrad", spec.amsgrad, "AMSGrad (adam, adamw)");
  cmd->add_option("--alpha", spec.alpha, "squared-gradient decay (rmsprop)");
  cmd->add_flag("--centered", spec.centered, "centered RMSprop");
  cmd->add_option("--lr-decay", spec.lr_decay, "learning-rate decay (adagrad)");
  cmd->add_option("--clip-norm", spec.clipping.global_norm, "clip gradients by global norm");
  cmd->add_option("--clip-value", spec.clipping.value, "clip each gradient element");
  return name;
}

} // namespace

int main(int argc, char** argv) {
  CLI::App app("stepjit: a compiler for neural-network training steps", "stepjit");
  app.require_subcommand(1);
  app.footer(
      "Exit status: 0 on success; 1 when an input is wrong (a graph, an array, a checkpoint, "
      "a feed: the message names the file, line and column or the op, the types and what "
      "was expected); 2 on a bad command line.");
  app.set_version_flag("--version", fmt::format("stepjit 0.1.0 (LLVM {}, host {})",
                                                sj::llvm_version(), sj::host_cpu_description()));

  std::string file;
  auto* check = app.add_subcommand("check", "Parse and verify a graph; print diagnostics.");
  check->add_option("FILE", file, "graph in stepjit text form ('-' reads standard input)")
      ->required();

  std::string stage = "graph", dump_dir;
  GradientRequest request;
  sj::OptimizerSpec spec;
  std::vector<std::string> inputs, saves;
  int steps = 1;
  bool full = false, show_variables = false, interpret = false, verbose = false;
  auto add_gradient_options = [&](CLI::App* cmd) {
    cmd->add_option("--loss", request.loss, "the output to differentiate")->capture_default_str();
    cmd->add_option("--wrt", request.wrt, "all-variables, or a comma-separated list of value names")
        ->capture_default_str();
  };
  auto add_run_options = [&](CLI::App* cmd) {
    cmd->add_option("--input,-i", inputs, "feed an input from a .npy file: NAME=FILE.npy");
    cmd->add_flag("--full", full, "print every element");
    cmd->add_flag("--variables", show_variables, "also print every variable after the last step");
    cmd->add_flag("--interpret", interpret,
                  "run the reference interpreter instead of compiled code");
    cmd->add_flag("--verbose,-v", verbose, "print the compile time and the arena size");
  };

  auto* dump = app.add_subcommand("dump", "Print a stage of the pipeline for a graph.");
  dump->add_option("FILE", file, "graph in stepjit text form ('-' reads standard input)")
      ->required();
  dump->add_option("--stage", stage,
                   "graph: the verified graph; dot: Graphviz; grad: with its gradient graph "
                   "(outputs grad.<name>); train: the training step (forward, gradients, "
                   "update); simplified, fused, memory: the compile passes; llvm, llvm-opt: "
                   "LLVM IR before and after optimization; asm: native assembly")
      ->check(CLI::IsMember(kStages))
      ->capture_default_str();
  dump->add_option("--dump-dir", dump_dir,
                   "write every stage to DIR, one file each (01-graph.sj ... 08-step.s)");
  add_gradient_options(dump);
  auto* optimizer = add_optimizer_options(dump, spec);
  dump->add_flag("--zero-unconnected", request.zero_unconnected,
                 "values the loss does not depend on get zero gradients instead of an error");

  auto* eval =
      app.add_subcommand("eval", "Run a graph (compiled by default) and print its outputs.");
  eval->add_option("FILE", file, "graph in stepjit text form ('-' reads standard input)")
      ->required();
  add_run_options(eval);
  eval->add_option("--save", saves, "write an output to a .npy file: NAME=FILE.npy");
  eval->add_option("--steps", steps, "run this many steps (variables carry over)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();

  auto* train = app.add_subcommand(
      "train", "Build the training step (gradients + optimizer) and run it, printing the loss.");
  train->add_option("FILE", file, "graph in stepjit text form ('-' reads standard input)")
      ->required();
  add_run_options(train);
  add_gradient_options(train);
  add_optimizer_options(train, spec);
  train->add_option("--steps", steps, "training steps (on the same feeds)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  DataFlags data;
  train->add_option("--x", data.x, "features, a .npy file [examples, ...]: train in mini-batches");
  train->add_option("--y", data.y, "labels, a .npy file [examples, ...]");
  train->add_option("--batch", data.batch,
                    "the batch size (must be the model's first input dimension; the default)");
  train->add_option("--epochs", data.epochs, "passes over the data (or --steps, which wraps)");
  train->add_flag("--shuffle", data.shuffle, "a new order of the examples in every epoch");
  train->add_option("--seed", data.seed, "the shuffling seed")->capture_default_str();
  CheckpointFlags checkpoints;
  train->add_option("--init", checkpoints.init,
                    "start from the variables this safetensors checkpoint holds (a subset is "
                    "fine: the others keep their initializers)");
  train->add_option("--save", checkpoints.save,
                    "save every variable (weights, optimizer slots, step counter) when done");

  std::string weights, x_path, out_path, output_name;
  auto* predict = app.add_subcommand("predict", "Run a model on trained weights: --x in, -o out.");
  predict->add_option("FILE", file, "the forward model in stepjit text form")->required();
  predict->add_option("--weights", weights, "a safetensors checkpoint (a subset is fine)");
  predict->add_option("--x", x_path, "the model's input, a .npy file")->required();
  predict->add_option("-o,--out", out_path, "where to write the prediction (.npy)")->required();
  predict->add_option("--output", output_name, "the output to write (default: pred, or the first)");
  predict->add_flag("--interpret", interpret, "run the reference interpreter");
  predict->add_flag("--verbose,-v", verbose, "print the compile time");

  bool markdown = false;
  auto* ops = app.add_subcommand("ops", "List the op table.");
  ops->add_flag("--markdown", markdown, "as the Markdown table of docs/ops.md");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version exit 0; every command-line mistake exits 2, as documented.
    return app.exit(e) == 0 ? 0 : 2;
  }
  try {
    if (*check) return run_check(file);
    if (*dump) return run_dump(file, stage, optimizer->count() > 0, dump_dir, request, spec);
    if (*ops) return run_ops(markdown);
    if (*eval)
      return run_eval(file, inputs, saves, steps, full, show_variables, interpret, verbose);
    if (*train && data.x.empty() != data.y.empty())
      throw sj::Error({}, "train: --x and --y go together (the features and the labels)");
    if (*train && !data.x.empty())
      return run_train_data(file, data, steps, interpret, verbose, request, spec, checkpoints);
    if (*train)
      return run_train(file, inputs, steps, interpret, verbose, full, show_variables, request, spec,
                       checkpoints);
    if (*predict)
      return run_predict(file, weights, x_path, out_path, output_name, interpret, verbose);
  } catch (const sj::Error& e) {
    std::cerr << e.what() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "stepjit: " << e.what() << "\n";
    return 1;
  }
  return 0;
}

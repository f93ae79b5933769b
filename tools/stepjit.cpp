// The stepjit command-line tool.
//
//   stepjit check FILE                     parse and verify; print diagnostics
//   stepjit dump FILE --stage=graph|dot|grad   print a stage of the pipeline
//   stepjit eval FILE --input x=x.npy ...  run the reference interpreter
//   stepjit ops [--markdown]               list the op table
//
// Exit status: 0 on success, 1 when the input is wrong (a diagnostic is printed), 2 on a bad
// command line.
#include "codegen/host_cpu.h"
#include "frontend/gradients.h"
#include "frontend/optimizers.h"
#include "graph/dot.h"
#include "graph/format_number.h"
#include "graph/op_docs.h"
#include "graph/parse.h"
#include "graph/print.h"
#include "graph/verify.h"
#include "runtime/interpreter.h"
#include "runtime/npy.h"

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
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

int run_dump(const std::string& file, const std::string& stage, const GradientRequest& request,
             const sj::OptimizerSpec& spec) {
  sj::Graph g = load(file);
  if (stage == "grad") add_gradients(g, request);
  if (stage == "train") add_training_step(g, request, spec);
  sj::verify(g);
  if (stage == "dot")
    std::cout << sj::to_dot(g);
  else
    std::cout << sj::print(g);
  return 0;
}

int run_eval(const std::string& file, const std::vector<std::string>& inputs,
             const std::vector<std::string>& saves, int steps, bool full, bool show_variables) {
  sj::Graph g = load(file);
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
  auto save_paths = name_path_pairs(saves, "--save");
  for (const auto& [name, path] : save_paths)
    if (!g.output(name))
      throw sj::Error(
          {}, fmt::format("--save {}: graph '{}' has no output named '{}'", name, g.name(), name));

  sj::Interpreter interpreter(std::move(g));
  std::map<std::string, sj::Tensor> outputs;
  for (int step = 0; step < steps; ++step) {
    outputs = interpreter.run(feeds);
    if (steps > 1) std::cout << fmt::format("step {}:\n", step + 1);
    for (const auto& [name, t] : outputs)
      std::cout << (steps > 1 ? "  " : "") << describe(name, t, full) << "\n";
  }
  if (show_variables)
    for (sj::ValueId v : interpreter.graph().nodes_of(sj::Op::variable)) {
      const std::string& name = interpreter.graph().node(v).name;
      std::cout << "variable " << describe(name, interpreter.variable(name), full) << "\n";
    }
  for (const auto& [name, path] : save_paths)
    sj::write_npy(path, outputs.at(name));
  return 0;
}

// The optimizer flags shared by every command that builds a training step.
void add_optimizer_options(CLI::App* cmd, sj::OptimizerSpec& spec) {
  cmd->add_option("--optimizer", spec.name, "sgd, adam, adamw, rmsprop or adagrad")
      ->check(CLI::IsMember({"sgd", "adam", "adamw", "rmsprop", "adagrad"}))
      ->capture_default_str();
  cmd->add_option("--lr", spec.learning_rate, "learning rate (default: the optimizer's)");
  cmd->add_option("--momentum", spec.momentum, "momentum (sgd, rmsprop)");
  cmd->add_option("--weight-decay", spec.weight_decay, "weight decay");
  cmd->add_flag_callback(
      "--keras", [&spec] { spec.flavor = sj::Flavor::keras; },
      "Keras's formulas and defaults instead of PyTorch's");
  cmd->add_option("--clip-norm", spec.clipping.global_norm, "clip gradients by global norm");
  cmd->add_option("--clip-value", spec.clipping.value, "clip each gradient element");
}

} // namespace

int main(int argc, char** argv) {
  CLI::App app("stepjit: a compiler for neural-network training steps", "stepjit");
  app.require_subcommand(1);
  app.set_version_flag("--version", fmt::format("stepjit 0.1.0 (LLVM {}, host {})",
                                                sj::llvm_version(), sj::host_cpu_description()));

  std::string file;
  auto* check = app.add_subcommand("check", "Parse and verify a graph; print diagnostics.");
  check->add_option("FILE", file, "graph in stepjit text form ('-' reads standard input)")
      ->required();

  std::string stage = "graph";
  auto* dump = app.add_subcommand("dump", "Print a stage of the pipeline for a graph.");
  dump->add_option("FILE", file, "graph in stepjit text form ('-' reads standard input)")
      ->required();
  dump->add_option("--stage", stage,
                   "graph: the verified graph as text; dot: Graphviz; grad: the graph with its "
                   "gradient graph appended (outputs grad.<name>); train: the whole training "
                   "step (forward, gradients, optimizer update)")
      ->check(CLI::IsMember({"graph", "dot", "grad", "train"}))
      ->capture_default_str();
  GradientRequest request;
  dump->add_option("--loss", request.loss, "with --stage=grad: the output to differentiate")
      ->capture_default_str();
  dump->add_option("--wrt", request.wrt,
                   "with --stage=grad: all-variables, or a comma-separated list of value names")
      ->capture_default_str();
  sj::OptimizerSpec spec;
  add_optimizer_options(dump, spec);
  dump->add_flag("--zero-unconnected", request.zero_unconnected,
                 "with --stage=grad: values the loss does not depend on get zero gradients "
                 "instead of an error");

  std::vector<std::string> inputs, saves;
  int steps = 1;
  bool full = false, show_variables = false;
  auto* eval = app.add_subcommand(
      "eval", "Run a graph with the reference interpreter and print its outputs.");
  eval->add_option("FILE", file, "graph in stepjit text form ('-' reads standard input)")
      ->required();
  eval->add_option("--input,-i", inputs, "feed an input from a .npy file: NAME=FILE.npy");
  eval->add_option("--save", saves, "write an output to a .npy file: NAME=FILE.npy");
  eval->add_option("--steps", steps, "run this many steps (variables carry over)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  eval->add_flag("--full", full, "print every element of every output");
  eval->add_flag("--variables", show_variables, "also print every variable after the last step");

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
    if (*dump) return run_dump(file, stage, request, spec);
    if (*ops) return run_ops(markdown);
    if (*eval) return run_eval(file, inputs, saves, steps, full, show_variables);
  } catch (const sj::Error& e) {
    std::cerr << e.what() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "stepjit: " << e.what() << "\n";
    return 1;
  }
  return 0;
}

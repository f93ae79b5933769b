// The stepjit command-line tool.
//
//   stepjit check FILE                        parse and verify; print diagnostics
//   stepjit dump FILE --stage=STAGE           print one stage of the pipeline (or --dump-dir)
//   stepjit eval FILE --input x=x.npy ...     run a graph (compiled; --interpret for the oracle)
//   stepjit train FILE --input ... --steps N  build the training step and run it N times
//   stepjit train MODEL --x X.npy --y Y.npy --loss=mse --epochs E [--shuffle]   mini-batches
//   stepjit predict FILE --weights CKPT --x X.npy -o Y.npy   run a model on trained weights
//   stepjit evaluate FILE --weights CKPT --x X.npy --y Y.npy --loss sparse_ce --metrics accuracy
//   stepjit bench MODEL --steps N --threads T --json   time the training step on generated data
//   stepjit summary MODEL [--optimizer adam --loss sparse_ce]   layers, parameters, FLOPs, arena
//   stepjit export LIB.so [--model NAME] -o FILE.sj   models a C++ library defines, as text IR
//   stepjit ops [--markdown]                  list the op table
//
// Exit status: 0 on success, 1 when the input is wrong (a diagnostic is printed), 2 on a bad
// command line.
#include "codegen/host_cpu.h"
#include "tools/commands.h"

#include <CLI/CLI.hpp>
#include <charconv>
#include <cstdint>
#include <fmt/format.h>
#include <iostream>
#include <limits>
#include <type_traits>

using namespace sj::cli;

namespace {

// A whole number from `min` to `max`, checked on the text before CLI11 converts it, so a value
// out of range, a negative one for an unsigned flag and "abc" are all explained the same way
// (CLI11 puts the flag in front): "--epochs: 0 is out of range: the valid range is 1 to
// 2147483647". A bad command line exits 2.
template <typename T>
CLI::Validator whole_number(T min, T max = std::numeric_limits<T>::max()) {
  std::string range = fmt::format("{} to {}", min, max);
  auto check = [=](std::string& text) -> std::string {
    T value{};
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    bool number = !text.empty() && end == text.data() + text.size();
    if (number && ec == std::errc() && value >= min && value <= max) return "";
    // from_chars reads no sign into an unsigned type: "-1" is a number, out of range.
    bool negative = std::is_unsigned_v<T> && text.size() > 1 && text[0] == '-' &&
                    text.find_first_not_of("0123456789", 1) == std::string::npos;
    if (number || negative || ec == std::errc::result_out_of_range)
      return fmt::format("{} is out of range: the valid range is {}", text, range);
    return fmt::format("'{}' is not a whole number; the valid range is {}", text, range);
  };
  return CLI::Validator(check, fmt::format("[{} - {}]", min, max));
}

const CLI::Validator kCount = whole_number<int>(1);        // --steps, --epochs
const CLI::Validator kThreads = whole_number<int>(1, 256); // --threads
const CLI::Validator kBatch = whole_number<int64_t>(1);    // --batch
const CLI::Validator kSeed = whole_number<uint64_t>(0);    // --seed

// The optimizer flags shared by every command that builds a training step; returns --optimizer.
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
  cmd->add_flag("--skip-nonfinite", spec.skip_nonfinite,
                "leave the variables unchanged on a step whose gradients are not all finite, "
                "counting such steps in <optimizer>/nonfinite_steps");
  cmd->add_option("--decay-min-rank", spec.decay_min_rank,
                  "weight decay only for variables of at least this rank (nanoGPT: 2)")
      ->check(CLI::Range(int64_t{0}, int64_t{64}));
  cmd->add_option("--no-decay", spec.no_decay,
                  "no weight decay for variables whose name matches this regex (e.g. 'bias|ln_')");
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
  int threads = 1;
  auto add_gradient_options = [&](CLI::App* cmd) {
    cmd->add_option("--loss", request.loss, "the output to differentiate")->capture_default_str();
    cmd->add_option(
           "--wrt", request.wrt,
           "all-variables (the floating-point variables the graph does not assign itself), or a "
           "comma-separated list of value names")
        ->capture_default_str();
  };
  auto add_run_options = [&](CLI::App* cmd) {
    cmd->add_option("--input,-i", inputs, "feed an input from a .npy file: NAME=FILE.npy");
    cmd->add_flag("--full", full, "print every element");
    cmd->add_flag("--variables", show_variables, "also print every variable after the last step");
    cmd->add_flag("--interpret", interpret,
                  "run the reference interpreter instead of compiled code");
    cmd->add_flag("--verbose,-v", verbose, "print the compile time and the arena size");
    cmd->add_option("--threads", threads,
                    "threads a compiled step's GEMMs and long loops split over (results are the "
                    "same for any count)")
        ->check(kThreads)
        ->capture_default_str();
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
  bool dump_check_numerics = false;
  dump->add_flag("--check-numerics", dump_check_numerics,
                 "compile with the NaN and infinity checks (train --check-numerics)");
  dump->add_flag("--zero-unconnected", request.zero_unconnected,
                 "values the loss does not depend on get zero gradients instead of an error");

  auto* eval =
      app.add_subcommand("eval", "Run a graph (compiled by default) and print its outputs.");
  eval->add_option("FILE", file, "graph in stepjit text form ('-' reads standard input)")
      ->required();
  add_run_options(eval);
  eval->add_option("--save", saves, "write an output to a .npy file: NAME=FILE.npy");
  eval->add_option("--steps", steps, "run this many steps (variables carry over)")
      ->check(kCount)
      ->capture_default_str();

  auto* train = app.add_subcommand(
      "train", "Build the training step (gradients + optimizer) and run it, printing the loss.");
  train->add_option("FILE", file, "graph in stepjit text form ('-' reads standard input)")
      ->required();
  add_run_options(train);
  add_gradient_options(train);
  add_optimizer_options(train, spec);
  train->add_option("--steps", steps, "training steps (on the same feeds)")
      ->check(kCount)
      ->capture_default_str();
  DataFlags data;
  train->add_option("--x", data.x, "features, a .npy file [examples, ...]: train in mini-batches");
  train->add_option("--y", data.y, "labels, a .npy file [examples, ...]");
  train
      ->add_option("--batch", data.batch,
                   "the batch size (must be the model's first input dimension; the default)")
      ->check(kBatch);
  train->add_option("--epochs", data.epochs, "passes over the data (or --steps, which wraps)")
      ->check(kCount);
  train->add_flag("--shuffle", data.shuffle, "a new order of the examples in every epoch");
  auto* val_x = train->add_option(
      "--val-x", data.val_x, "validation features (.npy): loss and accuracy after every epoch");
  auto* val_y = train->add_option("--val-y", data.val_y, "validation labels (.npy)");
  val_x->needs(val_y);
  val_y->needs(val_x);
  train
      ->add_option("--validation-split", data.validation_split,
                   "hold out this fraction of the last rows of --x/--y for validation (before "
                   "shuffling)")
      ->check(CLI::Range(0.0, 0.99))
      ->excludes(val_x);
  train->add_option("--seed", data.seed, "the shuffling seed")->check(kSeed)->capture_default_str();
  CheckpointFlags checkpoints;
  train->add_option("--init", checkpoints.init,
                    "start from the variables this safetensors checkpoint holds (a subset is "
                    "fine: the others keep their initializers)");
  train->add_option("--save", checkpoints.save,
                    "save every variable (weights, optimizer slots, step counter) when done");
  NumericsFlags numerics;
  train->add_flag("--check-numerics", numerics.check,
                  "test every value the step computes for NaN and infinity: the first one fails "
                  "the step, naming its op and source line, before any variable changes");
  train->add_flag("--allow-nonfinite", numerics.allow_nonfinite,
                  "go on training when the loss is NaN or infinite (by default training stops "
                  "there, saving nothing)");

  std::string weights, x_path, out_path, output_name;
  auto* predict = app.add_subcommand("predict", "Run a model on trained weights: --x in, -o out.");
  predict->add_option("FILE", file, "the forward model in stepjit text form")->required();
  predict->add_option("--weights", weights, "a safetensors checkpoint (a subset is fine)");
  predict->add_option("--x", x_path, "the model's input, a .npy file")->required();
  predict->add_option("-o,--out", out_path, "where to write the prediction (.npy)")->required();
  predict->add_option("--output", output_name, "the output to write (default: pred, or the first)");
  predict->add_flag("--interpret", interpret, "run the reference interpreter");
  predict->add_flag("--verbose,-v", verbose, "print the compile time");
  predict->add_option("--threads", threads, "threads the compiled model runs on")
      ->check(kThreads)
      ->capture_default_str();
  bool predict_argmax = false, predict_softmax = false;
  auto* argmax_flag = predict->add_flag("--argmax", predict_argmax,
                                        "write the index of the largest score over the last "
                                        "axis (i64: the predicted class)");
  predict->add_flag("--softmax", predict_softmax, "write the softmax over the last axis")
      ->excludes(argmax_flag);

  std::string y_path, eval_loss, eval_metrics;
  auto* evaluate = app.add_subcommand(
      "evaluate", "Measure a trained model on data: the loss and metrics over every row.");
  evaluate->add_option("FILE", file, "the forward model in stepjit text form")->required();
  evaluate->add_option("--weights", weights, "a safetensors checkpoint (a subset is fine)");
  evaluate->add_option("--x", x_path, "the features, a .npy file [examples, ...]")->required();
  evaluate->add_option("--y", y_path, "the labels, a .npy file [examples, ...]")->required();
  evaluate->add_option("--loss", eval_loss, "the loss kind, computed on the prediction")
      ->required()
      ->check(CLI::IsMember({"mse", "mae", "bce_logits", "sparse_ce", "ce"}));
  evaluate->add_option("--metrics", eval_metrics,
                       "comma-separated: accuracy, topK (e.g. top5, with sparse_ce)");
  evaluate->add_option("--output", output_name, "the prediction (default: pred, or the first)");
  evaluate->add_flag("--interpret", interpret, "run the reference interpreter");
  evaluate->add_flag("--verbose,-v", verbose, "print the compile time");
  evaluate->add_option("--threads", threads, "threads the compiled model runs on")
      ->check(kThreads)
      ->capture_default_str();

  BenchFlags bench_flags;
  auto* bench = app.add_subcommand(
      "bench", "Time the training step of a model on generated data (the figures of bench/).");
  bench->add_option("FILE", file, "the model in stepjit text form, with its loss output")
      ->required();
  add_gradient_options(bench);
  add_optimizer_options(bench, spec);
  bench
      ->add_option("--batch", bench_flags.batch,
                   "the batch size (checked: it is the model's first input dimension)")
      ->check(kBatch);
  bench->add_option("--steps", bench_flags.steps, "timed steps (after 3 warm-up steps)")
      ->check(kCount)
      ->capture_default_str();
  bench->add_option("--threads", bench_flags.threads, "threads the step's GEMMs split over")
      ->check(kThreads)
      ->capture_default_str();
  bench->add_flag("--check-numerics", bench_flags.check_numerics,
                  "compile with the NaN and infinity checks of train --check-numerics");
  bench->add_flag("--json", bench_flags.json,
                  "also print the figures as one JSON object on the last line (median_us, "
                  "min_us, compile_ms, arena_bytes, gflops, ...)");

  std::string summary_loss;
  auto* summary = app.add_subcommand(
      "summary", "Summarize a model: layers or ops, output shapes, parameters (trainable or "
                 "not), FLOPs per step (forward, backward, update) and the arena.");
  summary->add_option("FILE", file, "the model in stepjit text form")->required();
  summary->add_option("--loss", summary_loss,
                      "the output to minimize, or a loss kind built on the prediction (mse, mae, "
                      "bce_logits, sparse_ce, ce): summarize the training step");
  auto* summary_optimizer = add_optimizer_options(summary, spec);

  ExportFlags export_flags;
  auto* exporter = app.add_subcommand(
      "export", "Write the models a C++ shared library defines (STEPJIT_MODEL) as text IR.");
  exporter->add_option("LIBRARY", export_flags.library, "a shared library (.so) defining models")
      ->required();
  exporter->add_option("--model", export_flags.models, "the model to write (repeatable)");
  exporter->add_option("-o,--out", export_flags.out,
                       "write the model to FILE (default: standard output)");
  exporter->add_option("--out-dir", export_flags.out_dir, "write each model to DIR/NAME.sj");
  exporter->add_flag("--list", export_flags.list, "list the models the library defines");

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
    if (*dump)
      return run_dump(file, stage, optimizer->count() > 0, dump_dir, request, spec,
                      dump_check_numerics);
    if (*ops) return run_ops(markdown);
    if (*exporter) return run_export(export_flags);
    if (*bench) return run_bench(file, bench_flags, request, spec);
    if (*summary) return run_summary(file, summary_loss, summary_optimizer->count() > 0, spec);
    if (*eval)
      return run_eval(file, inputs, saves, steps, full, show_variables, interpret, verbose,
                      threads);
    if (*train && data.x.empty() != data.y.empty())
      throw sj::Error({}, "train: --x and --y go together (the features and the labels)");
    if (*train && !data.x.empty())
      return run_train_data(file, data, steps, interpret, verbose, request, spec, checkpoints,
                            threads, numerics);
    if (*train)
      return run_train(file, inputs, steps, interpret, verbose, full, show_variables, request, spec,
                       checkpoints, threads, numerics);
    if (*predict)
      return run_predict(file, weights, x_path, out_path, output_name, interpret, verbose, threads,
                         predict_argmax    ? "argmax"
                         : predict_softmax ? "softmax"
                                           : "");
    if (*evaluate)
      return run_evaluate(file, weights, x_path, y_path, eval_loss, eval_metrics, output_name,
                          interpret, verbose, threads);
  } catch (const sj::Error& e) {
    std::cerr << e.what() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "stepjit: " << e.what() << "\n";
    return 1;
  }
  return 0;
}

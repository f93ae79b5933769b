// The stepjit commands, one function each (tools/stepjit.cpp maps the command line onto them).
// Each returns the process's exit status, or throws sj::Error (exit status 1).
#pragma once

#include "tools/common.h"

#include <string>
#include <vector>

namespace sj::cli {

int run_ops(bool markdown);
int run_check(const std::string& file);
int run_dump(const std::string& file, const std::string& stage, bool training,
             const std::string& dump_dir, const GradientRequest& request,
             const sj::OptimizerSpec& spec, bool check_numerics = false);
int run_eval(const std::string& file, const std::vector<std::string>& inputs,
             const std::vector<std::string>& saves, int steps, bool full, bool show_variables,
             bool interpret, bool verbose, int threads);
/// `predict`: `transform` "" writes the output, "argmax" its argmax over the last axis (i64),
/// "softmax" its softmax over the last axis.
int run_predict(const std::string& file, const std::string& weights, const std::string& x_path,
                const std::string& out_path, std::string output, bool interpret, bool verbose,
                int threads, const std::string& transform);
/// `evaluate MODEL --weights W --x X --y Y --loss KIND [--metrics accuracy,top5]`: the loss and
/// metrics over every row of X (the last partial batch padded, its padding not counted),
/// computed in f64 from the model's prediction.
int run_evaluate(const std::string& file, const std::string& weights, const std::string& x_path,
                 const std::string& y_path, const std::string& loss, const std::string& metrics,
                 std::string output, bool interpret, bool verbose, int threads);

struct CheckpointFlags {
  std::string init, save;
};
/// `train --check-numerics` (CompileOptions::check_numerics, or the interpreter's) and
/// `--allow-nonfinite` (go on when the loss is NaN or infinite; by default training stops).
struct NumericsFlags {
  bool check = false;
  bool allow_nonfinite = false;
};
/// `train FILE -i NAME=FILE.npy --steps N`: the same feeds every step.
int run_train(const std::string& file, const std::vector<std::string>& inputs, int steps,
              bool interpret, bool verbose, bool full, bool show_variables,
              const GradientRequest& request, const sj::OptimizerSpec& spec,
              const CheckpointFlags& checkpoints, int threads, const NumericsFlags& numerics);

/// `train MODEL --x X.npy --y Y.npy`: mini-batches from arrays.
struct DataFlags {
  std::string x, y;
  int64_t batch = 0;
  int epochs = 0;
  bool shuffle = false;
  uint64_t seed = 0;
  /// Validation after every epoch: --val-x/--val-y, or the last `validation_split` of the rows
  /// of --x/--y held out (before shuffling, as Keras does).
  std::string val_x, val_y;
  double validation_split = 0;
};
int run_train_data(const std::string& file, const DataFlags& data, int steps, bool interpret,
                   bool verbose, GradientRequest request, const sj::OptimizerSpec& spec,
                   const CheckpointFlags& checkpoints, int threads, const NumericsFlags& numerics);

/// `bench MODEL.sj`: the training step timed on generated data.
struct BenchFlags {
  int64_t batch = 0; // checked against the model's static batch when given
  int steps = 100;
  int threads = 1;
  bool json = false;           // the figures as one JSON object on the last line
  bool check_numerics = false; // CompileOptions::check_numerics: measure what the checks cost
};
int run_bench(const std::string& file, const BenchFlags& flags, GradientRequest request,
              const sj::OptimizerSpec& spec);

/// `summary MODEL`: layers, parameters, FLOPs and arena; the training step's with an optimizer
/// (`optimizer_given`) or a loss (an output name or a loss kind; empty: none given).
int run_summary(const std::string& file, const std::string& loss, bool optimizer_given,
                const sj::OptimizerSpec& spec);

/// `export LIB.so`: the models a shared library registers with STEPJIT_MODEL, as text IR.
struct ExportFlags {
  std::string library;
  std::vector<std::string> models; // --model, repeatable; none: the only one, or all with out_dir
  std::string out;                 // -o FILE; standard output when empty
  std::string out_dir;             // --out-dir DIR: NAME.sj per model
  bool list = false;
};
int run_export(const ExportFlags& flags);

} // namespace sj::cli

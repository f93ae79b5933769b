// What the stepjit commands share: loading files, feeds, the interpreter-or-compiled runner, and
// turning a model file plus flags into a training step.
#pragma once

#include "frontend/optimizers.h"
#include "graph/graph.h"
#include "graph/tensor.h"
#include "runtime/compiled_step.h"
#include "runtime/interpreter.h"

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace sj::cli {

/// The largest text IR file the CLI reads: 256 MiB (the parser then bounds what its constants
/// may expand to). A larger file, or a standard input that goes on past it, is an sj::Error.
inline constexpr uint64_t kMaxGraphTextBytes = uint64_t{256} << 20;

/// A text IR file's contents through the library's bounded reader (runtime/file_util.h): a
/// regular file of at most kMaxGraphTextBytes, never a FIFO or device (refused without
/// blocking). '-' reads standard input, which may be a pipe, up to the same limit. Errors are
/// located at the file (or "<stdin>").
std::string read_text(const std::string& path);
/// Creates `dir` and its parents (an sj::Error located at it, naming `flag`, if it cannot).
void create_directory(const std::string& dir, const char* flag);
/// Parses and verifies a graph file (read_text).
sj::Graph load(const std::string& path);
/// `NAME=PATH` items of a repeated flag (--input, --save), each name once.
std::map<std::string, std::string> name_path_pairs(const std::vector<std::string>& items,
                                                   const char* flag);
/// `name: f32[2,2] = [...]`, eliding the middle of long tensors unless `full`.
std::string describe(const std::string& name, const sj::Tensor& t, bool full);

/// What a gradient or training step differentiates: the loss output (or, for `train --x/--y`,
/// a loss kind) and the values named by --wrt.
struct GradientRequest {
  std::string loss = "loss";
  std::string wrt = "all-variables";
  bool zero_unconnected = false;
};
/// The stages `dump` knows, in pipeline order.
inline const std::vector<std::string> kStages = {
    "graph", "dot", "grad", "train", "simplified", "fused", "memory", "llvm", "llvm-opt", "asm"};
/// Appends the gradient graph of `request`, one output `grad.<name>` per gradient.
void add_gradients(sj::Graph& g, const GradientRequest& request);
/// The step the compile stages work on: the training step when asked for one (stage "train" or
/// `training`), else the graph with its gradients (stage "grad"), else the graph; verified.
sj::Graph build_step(sj::Graph g, const std::string& stage, bool training,
                     const GradientRequest& request, const sj::OptimizerSpec& spec);

/// The loss kinds of `train --loss=KIND`.
inline const std::vector<std::string> kLossKinds = {"mse", "mae", "bce_logits", "sparse_ce", "ce"};
/// With a loss kind, adds the loss of the model's prediction against a new labels input "y"
/// (labels of dtype `labels` for sparse_ce) as output "loss" and sets request.loss to it;
/// without, keeps the model's own loss output and its labels input. Returns {features, labels}.
std::pair<std::string, std::string> prepare_loss(sj::Graph& g, GradientRequest& request,
                                                 sj::DType labels);

/// The interpreter or a compiled step, behind one face.
struct Runner {
  std::optional<sj::Interpreter> interpreter;
  std::optional<sj::CompiledStep> compiled;

  /// `check_numerics`: fail a step at the first NaN or infinity (CompileOptions::check_numerics).
  Runner(const sj::Graph& g, bool interpret, bool verbose, int threads = 1,
         bool check_numerics = false);
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

/// Data from `path` (the file behind `flag`, e.g. "--x") for model input `input` of dtype
/// `want`: returned as is when the dtypes agree; converted with a one-line note on standard
/// error when nothing is lost but float rounding (f64 to f32, integers to floats, integer-valued
/// floats to integer labels, i64 to i32 in range); otherwise an sj::Error at the data file
/// naming the first element at fault and the numpy line that fixes the file.
sj::Tensor to_input_dtype(sj::Tensor data, sj::DType want, const std::string& flag,
                          const std::string& path, const std::string& input);

/// Rows [begin, begin + rows) of t (a copy), or of zeros past its end.
sj::Tensor rows_of(const sj::Tensor& t, int64_t begin, int64_t rows);

/// The feeds named by --input NAME=FILE.npy, checked against the graph's inputs.
std::map<std::string, sj::Tensor> read_feeds(const sj::Graph& g,
                                             const std::vector<std::string>& inputs);
void print_variables(const sj::Graph& g, const Runner& runner, bool full);
/// --init / --weights: loads the variables the checkpoint holds (a subset is fine) and says
/// which; tensors that are not variables of this graph are skipped, and said so.
void load_initial(Runner& runner, const std::string& path);
/// load_initial for training: the optimizer's hyperparameters given on the command line (`--lr`,
/// `--beta1`, ...) then replace the checkpoint's (printing each override), and those the
/// checkpoint changed from the flags' defaults are printed, so a resumed run says which
/// learning rate it trains with.
void load_initial(Runner& runner, const std::string& path, const sj::OptimizerSpec& spec);

} // namespace sj::cli

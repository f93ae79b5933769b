// stepjit eval and predict: running a graph on arrays.
#include "runtime/evaluate.h"
#include "runtime/npy.h"
#include "tools/commands.h"
#include "tools/common.h"

#include <algorithm>
#include <cmath>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <iostream>
#include <sstream>

namespace sj::cli {

namespace {

// An x with more (or fewer) rows than the model's static batch: the model runs on batch-size
// slices, the last one padded with zeros, and the output rows of the real examples are kept.
sj::Tensor predict_in_batches(Runner& runner, const std::string& x_name, const sj::Tensor& x,
                              const sj::TensorType& x_type, const std::string& output,
                              const sj::TensorType& y_type) {
  bool rows_differ = x.rank() == x_type.rank() && x.rank() > 0 && x.dtype() == x_type.dtype &&
                     std::equal(x.shape().begin() + 1, x.shape().end(), x_type.shape.begin() + 1);
  bool batched_output = y_type.rank() > 0 && y_type.shape[0] == x_type.shape[0];
  if (!rows_differ || !batched_output || x.shape()[0] == 0)
    throw sj::Error(
        {}, fmt::format(
                "predict --x: the model's input '{}' is {}, the array is {}; "
                "an array of any number of rows of {} is run in batches of {}",
                x_name, x_type.str(), x.type().str(),
                sj::TensorType{x_type.dtype, {x_type.shape.begin() + 1, x_type.shape.end()}}.str(),
                x_type.rank() ? x_type.shape[0] : 1));
  int64_t batch = x_type.shape[0], n = x.shape()[0];
  sj::Shape y_shape = y_type.shape;
  y_shape[0] = n;
  sj::Tensor y({y_type.dtype, y_shape});
  int64_t row_bytes = int64_t(y_type.byte_size()) / batch;
  for (int64_t begin = 0; begin < n; begin += batch) {
    sj::Tensor out = runner.run({{x_name, rows_of(x, begin, batch)}}).at(output);
    int64_t rows = std::min(batch, n - begin);
    std::copy_n(out.bytes().begin(), rows * row_bytes, y.bytes().begin() + begin * row_bytes);
  }
  return y;
}

} // namespace

namespace {

// The model's one input fed from every row of --x: output `output` (default: pred, or the first)
// for all of them. `command` names the caller in messages.
sj::Tensor predict_rows(const std::string& command, const std::string& file,
                        const std::string& weights, const std::string& x_path, std::string& output,
                        bool interpret, bool verbose, int threads) {
  sj::Graph g = load(file);
  auto inputs = g.nodes_of(sj::Op::input);
  if (inputs.size() != 1)
    throw sj::Error({}, fmt::format("{}: graph '{}' has {} inputs; {} feeds exactly one "
                                    "(use `stepjit eval -i NAME=FILE.npy` for several)",
                                    command, g.name(), inputs.size(), command));
  if (output.empty())
    output = g.output("pred") ? "pred" : g.outputs().empty() ? "" : g.outputs()[0].name;
  if (!g.output(output))
    throw sj::Error(
        {}, fmt::format("{}: graph '{}' has no output named '{}'", command, g.name(), output));
  Runner runner(g, interpret, verbose, threads);
  load_initial(runner, weights);
  const std::string& x_name = g.node(inputs[0]).name;
  const sj::TensorType& x_type = g.type(inputs[0]);
  sj::Tensor x = to_input_dtype(sj::read_npy(x_path), x_type.dtype, "--x", x_path, x_name);
  const sj::TensorType& y_type = g.type(*g.output(output));
  return x.type() == x_type ? runner.run({{x_name, x}}).at(output)
                            : predict_in_batches(runner, x_name, x, x_type, output, y_type);
}

} // namespace

// predict: the model's one input fed from --x, the chosen output written to -o.
int run_predict(const std::string& file, const std::string& weights, const std::string& x_path,
                const std::string& out_path, std::string output, bool interpret, bool verbose,
                int threads, const std::string& transform) {
  sj::Tensor y =
      predict_rows("predict", file, weights, x_path, output, interpret, verbose, threads);
  if (transform != "" && !sj::is_float(y.dtype()))
    throw sj::Error({}, fmt::format("predict --{}: output '{}' is {}, not floating-point scores",
                                    transform, output, y.type().str()));
  if (transform == "argmax") y = sj::argmax_last_axis(y);
  if (transform == "softmax") y = sj::softmax_last_axis(y);
  sj::write_npy(out_path, y);
  std::cout << fmt::format("wrote {}{} {} to {}\n", output,
                           transform.empty() ? "" : fmt::format(" ({})", transform), y.type().str(),
                           out_path);
  return 0;
}

int run_evaluate(const std::string& file, const std::string& weights, const std::string& x_path,
                 const std::string& y_path, const std::string& loss, const std::string& metrics,
                 std::string output, bool interpret, bool verbose, int threads) {
  sj::Tensor pred =
      predict_rows("evaluate", file, weights, x_path, output, interpret, verbose, threads);
  sj::EvaluateOptions options{
      .loss = loss, .prediction = output, .labels_name = "--y", .labels_at = {y_path}};
  std::stringstream list(metrics);
  for (std::string m; std::getline(list, m, ',');)
    options.metrics.push_back(m);
  std::cout << sj::evaluate_prediction(pred, sj::read_npy(y_path), options).str() << "\n";
  return 0;
}

int run_eval(const std::string& file, const std::vector<std::string>& inputs,
             const std::vector<std::string>& saves, int steps, bool full, bool show_variables,
             bool interpret, bool verbose, int threads) {
  sj::Graph g = load(file);
  auto feeds = read_feeds(g, inputs);
  auto save_paths = name_path_pairs(saves, "--save");
  for (const auto& [name, path] : save_paths)
    if (!g.output(name))
      throw sj::Error(
          {}, fmt::format("--save {}: graph '{}' has no output named '{}'", name, g.name(), name));
  Runner runner(g, interpret, verbose, threads);
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

} // namespace sj::cli

// stepjit eval and predict: running a graph on arrays.
#include "runtime/npy.h"
#include "tools/commands.h"
#include "tools/common.h"

#include <algorithm>
#include <fmt/format.h>
#include <iostream>

namespace sj::cli {

namespace {

// Rows [begin, begin + rows) of t (a copy), or of zeros past its end.
sj::Tensor rows_of(const sj::Tensor& t, int64_t begin, int64_t rows) {
  sj::Shape shape = t.shape();
  int64_t row_bytes = int64_t(t.type().byte_size()) / std::max<int64_t>(shape[0], 1);
  shape[0] = rows;
  sj::Tensor r({t.dtype(), shape});
  int64_t have = std::clamp<int64_t>(t.shape()[0] - begin, 0, rows);
  std::copy_n(t.bytes().begin() + begin * row_bytes, have * row_bytes, r.bytes().begin());
  return r;
}

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

// predict: the model's one input fed from --x, the chosen output written to -o.
int run_predict(const std::string& file, const std::string& weights, const std::string& x_path,
                const std::string& out_path, std::string output, bool interpret, bool verbose,
                int threads) {
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
  Runner runner(g, interpret, verbose, threads);
  load_initial(runner, weights);
  const std::string& x_name = g.node(inputs[0]).name;
  const sj::TensorType& x_type = g.type(inputs[0]);
  sj::Tensor x = to_input_dtype(sj::read_npy(x_path), x_type.dtype, "--x", x_path, x_name);
  const sj::TensorType& y_type = g.type(*g.output(output));
  sj::Tensor y = x.type() == x_type ? runner.run({{x_name, x}}).at(output)
                                    : predict_in_batches(runner, x_name, x, x_type, output, y_type);
  sj::write_npy(out_path, y);
  std::cout << fmt::format("wrote {} {} to {}\n", output, y.type().str(), out_path);
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

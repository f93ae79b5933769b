// stepjit eval and predict: running a graph on arrays.
#include "runtime/npy.h"
#include "tools/commands.h"
#include "tools/common.h"

#include <fmt/format.h>
#include <iostream>

namespace sj::cli {

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
  auto outputs = runner.run({{g.node(inputs[0]).name, sj::read_npy(x_path)}});
  sj::write_npy(out_path, outputs.at(output));
  std::cout << fmt::format("wrote {} {} to {}\n", output, outputs.at(output).type().str(),
                           out_path);
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

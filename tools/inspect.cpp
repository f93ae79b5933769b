// stepjit check, dump and ops: looking at a graph and at every stage of its compilation.
#include "graph/dot.h"
#include "graph/op_docs.h"
#include "graph/print.h"
#include "runtime/compiled_step.h"
#include "runtime/file_util.h"
#include "tools/commands.h"
#include "tools/common.h"

#include <filesystem>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <iostream>
#include <span>

namespace sj::cli {

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

int run_dump(const std::string& file, const std::string& stage, bool training,
             const std::string& dump_dir, const GradientRequest& request,
             const sj::OptimizerSpec& spec, bool check_numerics) {
  sj::Graph parsed = load(file);
  sj::Graph step = build_step(parsed, stage, training, request, spec);
  std::vector<sj::StageText> stages{{"graph", "01-graph.sj", sj::print(parsed)},
                                    {"step", "02-grad.sj", sj::print(step)}};
  bool compile = !dump_dir.empty() ||
                 (stage != "graph" && stage != "dot" && stage != "grad" && stage != "train");
  if (compile)
    sj::CompiledStep::compile(step, {.stages = &stages, .check_numerics = check_numerics});
  if (!dump_dir.empty()) {
    create_directory(dump_dir, "--dump-dir");
    // Each stage is written as checkpoints are (a FIFO or device in the way is refused, not
    // waited on; a crash leaves whole files).
    for (const sj::StageText& s : stages)
      sj::write_file_atomically((std::filesystem::path(dump_dir) / s.file).string(),
                                {std::as_bytes(std::span(s.text.data(), s.text.size()))});
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

} // namespace sj::cli

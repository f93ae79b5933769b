#include "workloads.h"

#include "frontend/optimizers.h"
#include "graph/parse.h"

#include <fstream>
#include <random>
#include <sstream>

namespace bench {

const std::vector<Workload>& workloads() {
  static const std::vector<Workload> all = {
      {"seed", "seed.sj", {{100, 10, 1}, 32, Loss::mse, Update::adam, 0.01f}},
      {"mlp",
       "mlp.sj",
       {{784, 512, 512, 10}, 128, Loss::softmax_cross_entropy, Update::adam, 1e-3f}},
      {"wide", "wide.sj", {{1024, 4096, 1024}, 256, Loss::mse, Update::sgd_momentum, 0.01f}},
  };
  return all;
}

sj::OptimizerSpec optimizer_spec(const Workload& w) {
  sj::OptimizerSpec spec{.learning_rate = w.spec.learning_rate};
  if (w.spec.update == Update::sgd_momentum) {
    spec.name = "sgd";
    spec.momentum = 0.9;
  }
  return spec;
}

sj::Graph training_graph(const Workload& w) {
  std::string path = std::string(SJ_SOURCE_DIR) + "/examples/models/" + w.file;
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  sj::Graph g = sj::parse(text.str(), path);
  auto loss = g.output("loss");
  if (!loss) throw sj::Error({}, path + ": the model has no output 'loss'");
  std::vector<sj::Value> vars;
  for (sj::ValueId v : g.nodes_of(sj::Op::variable))
    vars.emplace_back(g, v);
  sj::make_optimizer(optimizer_spec(w))->minimize(sj::Value(g, *loss), vars);
  return g;
}

std::vector<Batch> make_batches(const Workload& w, int count) {
  const MlpSpec& s = w.spec;
  std::mt19937 rng(2024);
  std::normal_distribution<float> normal;
  auto normal_tensor = [&](int64_t cols) {
    sj::Tensor t({sj::DType::f32, {s.batch, cols}});
    for (int64_t i = 0; i < t.num_elements(); ++i)
      t.data<float>()[i] = normal(rng);
    return t;
  };
  std::vector<Batch> batches(count);
  for (Batch& b : batches) {
    b.emplace("x", normal_tensor(s.widths.front()));
    if (s.loss == Loss::mse) {
      b.emplace("y", normal_tensor(s.widths.back()));
    } else {
      std::uniform_int_distribution<int32_t> label(0, int32_t(s.widths.back()) - 1);
      sj::Tensor labels({sj::DType::i32, {s.batch}});
      for (int64_t i = 0; i < s.batch; ++i)
        labels.data<int32_t>()[i] = label(rng);
      b.emplace("labels", std::move(labels));
    }
  }
  return batches;
}

double step_flops(const MlpSpec& spec) {
  double flops = 0;
  for (size_t l = 1; l < spec.widths.size(); ++l) {
    double gemm = 2.0 * double(spec.batch) * double(spec.widths[l - 1]) * double(spec.widths[l]);
    flops += l == 1 ? 2 * gemm : 3 * gemm;
  }
  return flops;
}

} // namespace bench

#include "eigen_reference.h"

#include "runtime/compiled_step.h"
#include "runtime/variables.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <set>
#include <string>

namespace bench {
namespace {

constexpr int kCheckSteps = 4;
constexpr double kTolerance = 1e-3;

// stepjit's compiled losses on `batches`, computed once per workload (under the check's lock).
const std::vector<float>& stepjit_losses(const Workload& w, const std::vector<Batch>& batches) {
  static std::map<std::string, std::vector<float>> cache;
  auto& losses = cache[w.name];
  if (losses.empty()) {
    auto step = sj::CompiledStep::compile(training_graph(w));
    for (const Batch& b : batches)
      losses.push_back(step.run(b).at("loss").data<float>()[0]);
  }
  return losses;
}

} // namespace

EigenMlpStep make_eigen_step(const Workload& w, int threads) {
  EigenMlpStep step(w.spec, threads);
  sj::Variables initial(training_graph(w));
  auto copy = [](const sj::Tensor& from, std::span<float> to) {
    if (from.num_elements() != int64_t(to.size())) {
      std::fprintf(stderr, "make_eigen_step: a variable's size does not match the workload\n");
      std::abort();
    }
    std::copy_n(from.data<float>(), to.size(), to.begin());
  };
  for (size_t l = 0; l + 1 < w.spec.widths.size(); ++l) {
    std::string layer = "dense_" + std::to_string(l);
    copy(initial.get(layer + "/kernel"), step.kernel(int(l)));
    copy(initial.get(layer + "/bias"), step.bias(int(l)));
  }
  return step;
}

float run_eigen_step(EigenMlpStep& step, const Batch& batch) {
  const float* x = batch.at("x").data<float>();
  if (auto y = batch.find("y"); y != batch.end()) return step.run(x, y->second.data<float>());
  return step.run(x, batch.at("labels").data<int32_t>());
}

void check_eigen_against_stepjit(const Workload& w, int threads) {
  static std::mutex mutex;
  static std::set<std::pair<std::string, int>> checked;
  std::lock_guard lock(mutex);
  if (!checked.insert({w.name, threads}).second) return;
  auto batches = make_batches(w, kCheckSteps);
  const std::vector<float>& expected = stepjit_losses(w, batches);
  EigenMlpStep eigen = make_eigen_step(w, threads);
  bool ok = true;
  std::string stepjit_text, eigen_text;
  for (int i = 0; i < kCheckSteps; ++i) {
    float got = run_eigen_step(eigen, batches[i]);
    double scale = std::max(1e-12, std::abs(double(expected[i])));
    ok = ok && std::abs(double(got) - expected[i]) / scale <= kTolerance;
    stepjit_text += " " + std::to_string(expected[i]);
    eigen_text += " " + std::to_string(got);
  }
  std::fprintf(stderr, "check %s, %d thread(s): losses stepjit%s, eigen%s: %s\n", w.name.c_str(),
               threads, stepjit_text.c_str(), eigen_text.c_str(), ok ? "ok" : "DIFFERENT");
  if (!ok) {
    std::fprintf(stderr,
                 "check %s: the Eigen step disagrees with stepjit by more than %g "
                 "relative; its timings would not compare like with like\n",
                 w.name.c_str(), kTolerance);
    std::abort();
  }
}

} // namespace bench

#include "tests/support/models.h"

#include "graph/builder.h"
#include "runtime/npy.h"

#include <cmath>
#include <limits>
#include <vector>

namespace sj::test {

Graph build_seed_model() {
  Graph g("seed");
  auto x = input(g, "x", {DType::f32, {32, 100}});
  auto y = input(g, "y", {DType::f32, {32, 1}});
  auto k0 = variable(g, "dense_0/kernel", {DType::f32, {100, 10}}, Init::glorot_uniform(1));
  auto b0 = variable(g, "dense_0/bias", {DType::f32, {10}});
  auto k1 = variable(g, "dense_1/kernel", {DType::f32, {10, 1}}, Init::glorot_uniform(2));
  auto b1 = variable(g, "dense_1/bias", {DType::f32, {1}});
  auto h = relu(matmul(x, k0) + b0);
  auto pred = named(matmul(h, k1) + b1, "pred");
  auto loss = named(reduce_mean(square(pred - y)), "loss");
  output("pred", pred);
  output("loss", loss);
  return g;
}

void write_seed_data(const std::string& dir, int64_t rows, int64_t nan_at) {
  std::vector<float> x(static_cast<size_t>(rows) * 100), y(static_cast<size_t>(rows));
  for (size_t i = 0; i < x.size(); ++i)
    x[i] = float(std::sin(double(i) * 0.37));
  for (size_t i = 0; i < y.size(); ++i)
    y[i] = float(std::cos(double(i)));
  if (nan_at >= 0) x[size_t(nan_at)] = std::numeric_limits<float>::quiet_NaN();
  write_npy(dir + "/x.npy", Tensor::from<float>({rows, 100}, x));
  write_npy(dir + "/y.npy", Tensor::from<float>({rows, 1}, y));
}

} // namespace sj::test

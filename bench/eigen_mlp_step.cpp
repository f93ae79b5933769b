#include "eigen_mlp_step.h"

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <omp.h>

namespace bench {
namespace {

using RowMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using MatrixMap = Eigen::Map<RowMatrix>;
using ConstMatrixMap = Eigen::Map<const RowMatrix>;

// Below this many elements a loop is not worth waking a second thread for.
constexpr int64_t kParallelElements = int64_t{1} << 15;

// Runs f(c0, c1) on column ranges of a row-major [rows, cols] buffer, one range per thread:
// each thread streams whole row segments and owns its columns' sums, so column reductions (the
// bias gradients) need no merging.
template <typename F>
void for_column_ranges(int64_t rows, int64_t cols, int threads, F f) {
  if (threads <= 1 || rows * cols < kParallelElements) return f(int64_t{0}, cols);
#pragma omp parallel num_threads(threads)
  {
    int n = omp_get_num_threads(), i = omp_get_thread_num();
    int64_t chunk = (cols + n - 1) / n;
    chunk = (chunk + 15) / 16 * 16; // whole 64-byte lines per thread
    int64_t c0 = std::min(cols, i * chunk), c1 = std::min(cols, c0 + chunk);
    if (c0 < c1) f(c0, c1);
  }
}

} // namespace

EigenMlpStep::EigenMlpStep(MlpSpec spec, int threads) : spec_(std::move(spec)), threads_(threads) {
  auto param = [&](int64_t n) {
    bool adam = spec_.update == Update::adam;
    return Param{std::vector<float>(n), std::vector<float>(n), std::vector<float>(n),
                 std::vector<float>(adam ? n : 0)};
  };
  for (size_t l = 1; l < spec_.widths.size(); ++l) {
    int64_t in = spec_.widths[l - 1], out = spec_.widths[l];
    layers_.push_back({in, out, param(in * out), param(out), std::vector<float>(spec_.batch * out),
                       std::vector<float>(spec_.batch * out)});
  }
}

float EigenMlpStep::run(const float* x, const float* y) { return step(x, y, nullptr); }
float EigenMlpStep::run(const float* x, const int32_t* labels) { return step(x, nullptr, labels); }

float EigenMlpStep::step(const float* x, const float* y, const int32_t* labels) {
  Eigen::setNbThreads(threads_); // process-wide: set on every step, other steps may differ
  const int64_t batch = spec_.batch, last = int64_t(layers_.size()) - 1;
  auto input_of = [&](int64_t l) { return l == 0 ? x : layers_[l - 1].act.data(); };

  // Forward: act = relu(in · W + b), the bias and relu in one pass after the GEMM.
  for (int64_t l = 0; l <= last; ++l) {
    Layer& L = layers_[l];
    MatrixMap(L.act.data(), batch, L.out).noalias() =
        ConstMatrixMap(input_of(l), batch, L.in) * ConstMatrixMap(L.w.value.data(), L.in, L.out);
    const float* b = L.b.value.data();
    bool relu = l < last;
    for_column_ranges(batch, L.out, threads_, [&](int64_t c0, int64_t c1) {
      for (int64_t r = 0; r < batch; ++r) {
        float* a = L.act.data() + r * L.out;
        if (relu)
          for (int64_t c = c0; c < c1; ++c)
            a[c] = std::max(a[c] + b[c], 0.0f);
        else
          for (int64_t c = c0; c < c1; ++c)
            a[c] += b[c];
      }
    });
  }

  // The loss, the last layer's delta and its bias gradient, in one pass.
  float loss = spec_.loss == Loss::mse ? mse(y) : cross_entropy(labels);

  ++t_; // this step's t, for Adam's bias corrections

  // Backward: dW = inᵀ · delta; the previous delta = (delta · Wᵀ) ⊙ [act > 0], masked in the
  // same pass that sums its bias gradient. The first layer's input gradient is not needed.
  // Each layer is updated as soon as its kernel has been read for the last time.
  for (int64_t l = last; l >= 0; --l) {
    Layer& L = layers_[l];
    ConstMatrixMap delta(L.delta.data(), batch, L.out);
    MatrixMap(L.w.grad.data(), L.in, L.out).noalias() =
        ConstMatrixMap(input_of(l), batch, L.in).transpose() * delta;
    if (l > 0) {
      Layer& P = layers_[l - 1];
      MatrixMap(P.delta.data(), batch, P.out).noalias() =
          delta * ConstMatrixMap(L.w.value.data(), L.in, L.out).transpose();
      for_column_ranges(batch, P.out, threads_, [&](int64_t c0, int64_t c1) {
        float* db = P.b.grad.data();
        std::fill(db + c0, db + c1, 0.0f);
        for (int64_t r = 0; r < batch; ++r) {
          float* d = P.delta.data() + r * P.out;
          const float* a = P.act.data() + r * P.out;
          for (int64_t c = c0; c < c1; ++c) {
            d[c] = a[c] > 0.0f ? d[c] : 0.0f;
            db[c] += d[c];
          }
        }
      });
    }
    update(L.w);
    update(L.b);
  }
  return loss;
}

// mean((pred - y)²); delta = 2 (pred - y) / n.
float EigenMlpStep::mse(const float* y) {
  Layer& L = layers_.back();
  const int64_t batch = spec_.batch, n = batch * L.out;
  const float scale = 2.0f / float(n);
  double sum = 0;
  float* db = L.b.grad.data();
  std::fill(db, db + L.out, 0.0f);
  for (int64_t r = 0; r < batch; ++r) {
    const float *p = L.act.data() + r * L.out, *t = y + r * L.out;
    float* d = L.delta.data() + r * L.out;
    float row = 0;
#pragma omp simd reduction(+ : row)
    for (int64_t c = 0; c < L.out; ++c) {
      float e = p[c] - t[c];
      row += e * e;
      d[c] = scale * e;
      db[c] += d[c];
    }
    sum += row;
  }
  return float(sum / double(n));
}

// mean over rows of logsumexp(z) - z[label]; delta = (softmax(z) - onehot(label)) / batch.
float EigenMlpStep::cross_entropy(const int32_t* labels) {
  Layer& L = layers_.back();
  const int64_t batch = spec_.batch;
  const float inv_batch = 1.0f / float(batch);
  double sum = 0;
  float* db = L.b.grad.data();
  std::fill(db, db + L.out, 0.0f);
  for (int64_t r = 0; r < batch; ++r) {
    const float* z = L.act.data() + r * L.out;
    float* d = L.delta.data() + r * L.out;
    float max = *std::max_element(z, z + L.out), total = 0;
    for (int64_t c = 0; c < L.out; ++c)
      total += d[c] = std::exp(z[c] - max);
    sum += std::log(total) - (z[labels[r]] - max);
    const float scale = inv_batch / total;
    for (int64_t c = 0; c < L.out; ++c) {
      d[c] = d[c] * scale - (c == labels[r] ? inv_batch : 0.0f);
      db[c] += d[c];
    }
  }
  return float(sum / double(batch));
}

// PyTorch's formulas. Adam: m = b1 m + (1-b1) g; v = b2 v + (1-b2) g²;
// w -= lr (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps). SGD: buf = 0.9 buf + g; w -= lr buf.
void EigenMlpStep::update(Param& p) {
  const int64_t n = int64_t(p.value.size());
  float *w = p.value.data(), *m = p.m.data(), *v = p.v.data();
  const float* g = p.grad.data();
  const float lr = spec_.learning_rate;
  const bool parallel = threads_ > 1 && n >= kParallelElements;
  if (spec_.update == Update::sgd_momentum) {
#pragma omp parallel for simd num_threads(threads_) if (parallel)
    for (int64_t i = 0; i < n; ++i) {
      m[i] = 0.9f * m[i] + g[i];
      w[i] -= lr * m[i];
    }
    return;
  }
  const float b1 = 0.9f, b2 = 0.999f, eps = 1e-8f;
  const double t = double(t_);
  const float step_size = lr / float(1.0 - std::pow(0.9, t));
  const float inv_bc2 = float(1.0 / (1.0 - std::pow(0.999, t)));
#pragma omp parallel for simd num_threads(threads_) if (parallel)
  for (int64_t i = 0; i < n; ++i) {
    m[i] = b1 * m[i] + (1.0f - b1) * g[i];
    v[i] = b2 * v[i] + (1.0f - b2) * g[i] * g[i];
    w[i] -= step_size * m[i] / (std::sqrt(v[i] * inv_bc2) + eps);
  }
}

} // namespace bench

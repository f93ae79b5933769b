#include "runtime/evaluate.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fmt/format.h>
#include <fmt/ranges.h>

namespace sj {

namespace {

// Rows of the last axis of t, in f64: n rows of `width`.
struct LastAxis {
  int64_t rows, width;
  explicit LastAxis(const Tensor& t)
      : rows(t.rank() ? t.num_elements() / std::max<int64_t>(t.shape().back(), 1) : 1),
        width(t.rank() ? t.shape().back() : 1) {}
};

// log softmax of row i of the last axis, element j, in f64.
double log_softmax(const Tensor& t, const LastAxis& a, int64_t i, int64_t j) {
  double m = -INFINITY, sum = 0;
  for (int64_t k = 0; k < a.width; ++k)
    m = std::max(m, t.as_double(i * a.width + k));
  for (int64_t k = 0; k < a.width; ++k)
    sum += std::exp(t.as_double(i * a.width + k) - m);
  return t.as_double(i * a.width + j) - m - std::log(sum);
}

} // namespace

Tensor argmax_last_axis(const Tensor& t) {
  LastAxis a(t);
  Shape shape = t.shape();
  if (!shape.empty()) shape.pop_back();
  Tensor r({DType::i64, shape});
  for (int64_t i = 0; i < a.rows; ++i) {
    int64_t best = 0;
    for (int64_t j = 1; j < a.width; ++j)
      if (t.as_double(i * a.width + j) > t.as_double(i * a.width + best)) best = j;
    r.data<int64_t>()[i] = best;
  }
  return r;
}

Tensor softmax_last_axis(const Tensor& t) {
  LastAxis a(t);
  Tensor r(t.type());
  for (int64_t i = 0; i < a.rows; ++i)
    for (int64_t j = 0; j < a.width; ++j) {
      double p = std::exp(log_softmax(t, a, i, j));
      if (r.dtype() == DType::f32)
        r.data<float>()[i * a.width + j] = float(p);
      else
        r.data<double>()[i * a.width + j] = p;
    }
  return r;
}

Evaluation evaluate_prediction(const Tensor& pred, const Tensor& labels,
                               const EvaluateOptions& options) {
  LastAxis a(pred);
  int64_t n = pred.rank() ? pred.shape()[0] : 1;
  const std::string& loss = options.loss;
  bool sparse = loss == "sparse_ce";
  // The labels' expected shape: the prediction's, without its last axis for sparse_ce.
  Shape want = pred.shape();
  if (sparse && !want.empty()) want.pop_back();
  if (!sparse && labels.rank() + 1 == pred.rank() && a.width == 1)
    want.pop_back(); // [N] for [N, 1]
  if (labels.shape() != want)
    throw Error(options.labels_at,
                fmt::format("{}: the labels are {}, but the prediction '{}' is {}: {} needs "
                            "labels of shape [{}]",
                            options.labels_name, labels.type().str(), options.prediction,
                            pred.type().str(), loss, fmt::join(want, ",")));
  double total = 0;
  int64_t terms = sparse ? a.rows : pred.num_elements();
  for (int64_t i = 0; i < a.rows; ++i) {
    if (sparse) {
      double label = labels.as_double(i);
      if (label != std::floor(label) || label < 0 || label >= double(a.width))
        throw Error(options.labels_at,
                    fmt::format("{}: label {} at row {} is not a class of the {} the prediction "
                                "scores (valid: [0, {}))",
                                options.labels_name, fmt::format("{:g}", label), i / (a.rows / n),
                                a.width, a.width));
      total -= log_softmax(pred, a, i, int64_t(label));
      continue;
    }
    for (int64_t j = 0; j < a.width; ++j) {
      int64_t e = i * a.width + j;
      double p = pred.as_double(e), t = labels.as_double(e);
      if (loss == "mse")
        total += (p - t) * (p - t);
      else if (loss == "mae")
        total += std::abs(p - t);
      else if (loss == "bce_logits")
        total += std::max(p, 0.0) - p * t + std::log1p(std::exp(-std::abs(p)));
      else if (loss == "ce")
        total -= t * log_softmax(pred, a, i, j) * double(a.width);
    }
  }
  Evaluation result{n, total / double(terms), {}};
  for (const std::string& m : options.metrics) {
    int64_t k = m == "accuracy" ? 1 : m.starts_with("top") ? std::atoll(m.c_str() + 3) : 0;
    if (k <= 0 || (k > 1 && !sparse))
      throw Error({}, fmt::format("metric '{}': known metrics are accuracy and topK (K >= 1, with "
                                  "the sparse_ce loss)",
                                  m));
    int64_t right = 0;
    for (int64_t i = 0; i < a.rows; ++i) {
      if (loss == "bce_logits") {
        for (int64_t j = 0; j < a.width; ++j)
          right +=
              (pred.as_double(i * a.width + j) > 0) == (labels.as_double(i * a.width + j) > 0.5);
        continue;
      }
      // The rank of the true class (sparse) or of the labels' argmax (ce) among the scores.
      int64_t truth = 0;
      if (sparse)
        truth = int64_t(labels.as_double(i));
      else
        for (int64_t j = 1; j < a.width; ++j)
          if (labels.as_double(i * a.width + j) > labels.as_double(i * a.width + truth)) truth = j;
      int64_t above = 0;
      for (int64_t j = 0; j < a.width; ++j) {
        double pj = pred.as_double(i * a.width + j), pt = pred.as_double(i * a.width + truth);
        above += pj > pt || (pj == pt && j < truth); // ties go to the lower class, as argmax
      }
      right += above < k;
    }
    int64_t judged = loss == "bce_logits" ? pred.num_elements() : a.rows;
    result.metrics.emplace_back(m, double(right) / double(judged));
  }
  return result;
}

Evaluation evaluate(CompiledStep& model, const Tensor& x, const Tensor& labels,
                    const EvaluateOptions& options) {
  const Graph& g = model.graph();
  auto inputs = g.nodes_of(Op::input);
  if (inputs.size() != 1 || g.type(inputs[0]).rank() == 0 || !g.output(options.prediction))
    throw Error({}, fmt::format("evaluate: graph '{}' needs one input with a batch dimension and "
                                "an output '{}'",
                                g.name(), options.prediction));
  const std::string& name = g.node(inputs[0]).name;
  TensorType in = g.type(inputs[0]), out = g.type(*g.output(options.prediction));
  int64_t batch = in.shape[0], n = x.rank() ? x.shape()[0] : 0;
  TensorType row_type{in.dtype, {in.shape.begin() + 1, in.shape.end()}};
  if (x.dtype() != in.dtype || x.rank() != in.rank() ||
      !std::equal(x.shape().begin() + 1, x.shape().end(), in.shape.begin() + 1) || n == 0 ||
      out.rank() == 0 || out.shape[0] != batch)
    throw Error({}, fmt::format("evaluate: the model's input '{}' is {}, x is {}: rows of {} are "
                                "run in batches of {}",
                                name, in.str(), x.type().str(), row_type.str(), batch));
  Shape pred_shape = out.shape;
  pred_shape[0] = n;
  Tensor pred({out.dtype, pred_shape});
  int64_t in_row = int64_t(in.byte_size()) / batch, out_row = int64_t(out.byte_size()) / batch;
  Tensor slice(in);
  for (int64_t begin = 0; begin < n; begin += batch) {
    int64_t rows = std::min(batch, n - begin);
    std::fill(slice.bytes().begin(), slice.bytes().end(), std::byte{0});
    std::copy_n(x.bytes().begin() + begin * in_row, rows * in_row, slice.bytes().begin());
    const Tensor& y = model.run({{name, slice}}).at(options.prediction);
    std::copy_n(y.bytes().begin(), rows * out_row, pred.bytes().begin() + begin * out_row);
  }
  return evaluate_prediction(pred, labels, options);
}

std::string Evaluation::str() const {
  std::string s = fmt::format("evaluated {} examples: loss {:.7g}", examples, loss);
  for (const auto& [name, value] : metrics)
    s += fmt::format(", {} {:.4f}", name, value);
  return s;
}

} // namespace sj

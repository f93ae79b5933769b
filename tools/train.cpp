// stepjit train: the training step of a model file, on fixed feeds or on mini-batches of arrays.
#include "runtime/batcher.h"
#include "runtime/checkpoint.h"
#include "runtime/npy.h"
#include "tools/commands.h"
#include "tools/common.h"
#include "tools/progress.h"

#include <algorithm>
#include <cmath>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <iostream>
#include <optional>

namespace sj::cli {

namespace {

// The output a loss was built from: "pred", "logits", or the first output that is not the loss.
std::string prediction_output(const sj::Graph& g) {
  for (const char* name : {"pred", "logits"})
    if (g.output(name)) return name;
  for (const sj::Output& o : g.outputs())
    if (o.name != "loss") return o.name;
  return "";
}

// Whether row r of a prediction is right, for classification: the largest logit is the label
// (integer labels, or the largest one-hot entry), or for binary logits the sign matches.
std::optional<bool> correct(const sj::Tensor& pred, const sj::Tensor& labels,
                            const std::string& loss, int64_t r, int64_t classes) {
  auto argmax = [&](const sj::Tensor& t, int64_t row) {
    int64_t best = 0;
    for (int64_t c = 1; c < classes; ++c)
      if (t.as_double(row * classes + c) > t.as_double(row * classes + best)) best = c;
    return best;
  };
  if (sj::is_int(labels.dtype()) && pred.rank() == labels.rank() + 1)
    return argmax(pred, r) == labels.as_int64(r);
  if (loss == "ce" && pred.shape() == labels.shape()) return argmax(pred, r) == argmax(labels, r);
  if (loss == "bce_logits" && pred.shape() == labels.shape() && classes == 1)
    return (pred.as_double(r) > 0) == (labels.as_double(r) > 0.5);
  return std::nullopt;
}

// The loss and, for classification, the accuracy of a model over every full batch of an epoch
// (in order, no update), measured with `eval` (a forward-only runner).
struct Measured {
  double loss = 0;
  std::optional<double> accuracy;
  int64_t rows = 0, batches = 0, left_out = 0;
};

Measured measure(const sj::Graph& model, Runner& eval, const sj::Batcher& batcher,
                 const std::string& x_name, const std::string& y_name,
                 const std::string& loss_kind) {
  std::string pred_name = prediction_output(model);
  Measured m;
  double loss_sum = 0;
  int64_t right = 0, judged = 0;
  m.batches = batcher.batches_per_epoch();
  for (int64_t i = 0; i < m.batches; ++i) {
    auto [bx, by] = batcher.batch(0, i);
    auto out = eval.run({{x_name, bx}, {y_name, by}});
    loss_sum += out.at("loss").as_double(0);
    const sj::Tensor* pred = pred_name.empty() ? nullptr : &out.at(pred_name);
    int64_t n = pred && pred->rank() ? pred->shape()[0] : 1;
    m.rows += n;
    if (!pred) continue;
    // Judged per position: a row of a classifier, or each token of a sequence model (logits
    // [B, T, V] against labels [B, T]).
    int64_t classes = pred->rank() > 1 ? pred->shape().back() : pred->num_elements() / n;
    int64_t positions = classes ? pred->num_elements() / classes : 0;
    for (int64_t r = 0; r < positions; ++r)
      if (auto ok = correct(*pred, by, loss_kind, r, classes)) {
        ++judged;
        right += *ok;
      }
  }
  m.loss = loss_sum / double(m.batches);
  if (judged) m.accuracy = double(right) / double(judged);
  m.left_out = batcher.num_examples() - m.rows;
  return m;
}

// A forward-only runner of `model` holding a copy of `trained`'s variables.
void copy_variables(Runner& trained, Runner& eval) {
  for (const auto& [name, value] : eval.variables().all())
    eval.variables().set(name, trained.variables().get(name));
}

void print_final_metrics(const sj::Graph& model, Runner& trained, const sj::Batcher& batcher,
                         const std::string& x_name, const std::string& y_name,
                         const std::string& loss_kind, bool interpret, int threads) {
  Runner eval(model, interpret, false, threads);
  copy_variables(trained, eval);
  Measured m = measure(model, eval, batcher, x_name, y_name, loss_kind);
  std::cout << fmt::format(
      "final: loss {:.7g}{} over {} examples ({} batches{})\n", m.loss,
      m.accuracy ? fmt::format(", accuracy {:.4f}", *m.accuracy) : "", m.rows, m.batches,
      m.left_out ? fmt::format("; the last {} examples do not fill a batch", m.left_out) : "");
}

// "96..127", or the first rows of a shuffled batch: "17, 3, 99, ... (32 rows)".
std::string rows_str(const std::vector<int64_t>& rows) {
  bool contiguous = true;
  for (size_t i = 1; i < rows.size(); ++i)
    contiguous = contiguous && rows[i] == rows[i - 1] + 1;
  if (rows.empty()) return "none";
  if (contiguous) return fmt::format("{}..{}", rows.front(), rows.back());
  std::vector<int64_t> head(rows.begin(), rows.begin() + std::min<size_t>(rows.size(), 6));
  return fmt::format("{}{} ({} rows, shuffled)", fmt::join(head, ", "),
                     head.size() < rows.size() ? ", ..." : "", rows.size());
}

// Training stops at a non-finite loss unless --allow-nonfinite, or --skip-nonfinite (which keeps
// the weights finite): every later step would train on NaN weights. `where` says which step and
// batch; nothing has been saved yet.
void check_loss(double loss, const NumericsFlags& numerics, const sj::OptimizerSpec& spec,
                const std::string& where) {
  if (numerics.allow_nonfinite || spec.skip_nonfinite) return;
  throw sj::Error({}, fmt::format("loss became {} at {}; training stopped and saved nothing "
                                  "(--check-numerics names the first op that produced a NaN or "
                                  "infinity, before any variable changes; --allow-nonfinite goes "
                                  "on; the optimizer option --skip-nonfinite skips such steps)",
                                  std::isnan(loss) ? "NaN"
                                  : loss > 0       ? "+inf"
                                                   : "-inf",
                                  where));
}

// With --skip-nonfinite: how many steps the optimizer skipped ("<optimizer>/nonfinite_steps").
void print_skipped(const sj::Graph& g, const Runner& runner) {
  for (sj::ValueId v : g.nodes_of(sj::Op::variable))
    if (const std::string& name = g.node(v).name; name.ends_with("/nonfinite_steps"))
      std::cout << fmt::format("skipped {} steps whose gradients were not finite ({})\n",
                               runner.variable(name).as_double(0), name);
}

// A step's sj::Error (check_numerics, an index out of range) with the step and batch it hit.
[[noreturn]] void fail_in_step(const sj::Error& e, const std::string& where) {
  throw sj::Error(e.location(), fmt::format("{} (at {})", e.message(), where));
}

} // namespace

int run_train(const std::string& file, const std::vector<std::string>& inputs, int steps,
              bool interpret, bool verbose, bool full, bool show_variables,
              const GradientRequest& request, const sj::OptimizerSpec& spec,
              const CheckpointFlags& checkpoints, int threads, const NumericsFlags& numerics) {
  sj::Graph g = build_step(load(file), "train", true, request, spec);
  auto feeds = read_feeds(g, inputs);
  Runner runner(g, interpret, verbose, threads, numerics.check);
  load_initial(runner, checkpoints.init, spec);
  double first = 0, last = 0;
  for (int step = 1; step <= steps; ++step) {
    std::string where = fmt::format("step {}", step);
    std::map<std::string, sj::Tensor> outputs;
    try {
      outputs = runner.run(feeds);
    } catch (const sj::Error& e) {
      fail_in_step(e, where);
    }
    last = outputs.at(request.loss).as_double(0);
    if (!std::isfinite(last)) check_loss(last, numerics, spec, where);
    if (step == 1) first = last;
    std::cout << fmt::format("step {:>4}  {} {:.7g}\n", step, request.loss, last);
  }
  std::cout << fmt::format("{} {:.7g} -> {:.7g} over {} steps ({})\n", request.loss, first, last,
                           steps, interpret ? "interpreter" : "compiled");
  print_skipped(g, runner);
  if (show_variables) print_variables(g, runner, full);
  if (!checkpoints.save.empty()) {
    sj::save_checkpoint(checkpoints.save, runner.variables());
    std::cout << fmt::format("saved {} variables to {}\n", runner.variables().all().size(),
                             checkpoints.save);
  }
  return 0;
}

int run_train_data(const std::string& file, const DataFlags& data, int steps, bool interpret,
                   bool verbose, GradientRequest request, const sj::OptimizerSpec& spec,
                   const CheckpointFlags& checkpoints, int threads, const NumericsFlags& numerics) {
  sj::Graph g = load(file);
  sj::Tensor x = sj::read_npy(data.x), y = sj::read_npy(data.y);
  const std::string loss_kind = request.loss; // prepare_loss renames it to the output "loss"
  auto [x_name, y_name] = prepare_loss(g, request, y.dtype());
  sj::TensorType x_type = g.type(*g.find(x_name));
  x = to_input_dtype(std::move(x), x_type.dtype, "--x", data.x, x_name);
  y = to_input_dtype(std::move(y), g.type(*g.find(y_name)).dtype, "--y", data.y, y_name);
  if (x_type.rank() == 0)
    throw sj::Error({}, fmt::format("train --x: the model's input '{}' is {}; mini-batches need "
                                    "a batch dimension first",
                                    x_name, x_type.str()));
  int64_t batch = x_type.shape[0];
  if (data.batch != 0 && data.batch != batch)
    throw sj::Error({}, fmt::format("--batch {}: the model's input '{}' is {}: shapes are static, "
                                    "so the batch is the model's first dimension ({})",
                                    data.batch, x_name, x_type.str(), batch));
  // Labels of a float loss may come as a vector for a [batch, 1] prediction.
  sj::TensorType y_type = g.type(*g.find(y_name));
  auto shape_labels = [&](sj::Tensor labels) {
    if (labels.rank() + 1 != y_type.rank() || y_type.shape.back() != 1 ||
        labels.dtype() != y_type.dtype)
      return labels;
    sj::Shape s = labels.shape();
    s.push_back(1);
    sj::Tensor r({labels.dtype(), s});
    std::copy(labels.bytes().begin(), labels.bytes().end(), r.bytes().begin());
    return r;
  };
  y = shape_labels(std::move(y));
  // Validation data: given, or the last rows held out.
  std::optional<sj::Batcher> validation;
  if (!data.val_x.empty()) {
    sj::Tensor vx =
        to_input_dtype(sj::read_npy(data.val_x), x_type.dtype, "--val-x", data.val_x, x_name);
    sj::Tensor vy =
        to_input_dtype(sj::read_npy(data.val_y), y_type.dtype, "--val-y", data.val_y, y_name);
    validation.emplace(std::move(vx), shape_labels(std::move(vy)),
                       sj::BatcherOptions{.batch_size = batch});
  } else if (data.validation_split > 0) {
    int64_t n = x.rank() ? x.shape()[0] : 0, held = int64_t(double(n) * data.validation_split);
    if (held < batch || n - held < batch)
      throw sj::Error({}, fmt::format("--validation-split {}: {} of the {} examples would be held "
                                      "out; training and validation each need a full batch of {}",
                                      data.validation_split, held, n, batch));
    validation.emplace(rows_of(x, n - held, held), rows_of(y, n - held, held),
                       sj::BatcherOptions{.batch_size = batch});
    x = rows_of(x, 0, n - held);
    y = rows_of(y, 0, n - held);
    std::cout << fmt::format("validation: the last {} of {} examples (--validation-split {})\n",
                             held, n, data.validation_split);
  }
  sj::Batcher batcher(std::move(x), std::move(y),
                      {.batch_size = batch, .shuffle = data.shuffle, .seed = data.seed});
  int64_t per_epoch = batcher.batches_per_epoch();
  int64_t total = steps;
  if (data.epochs > 0 && __builtin_mul_overflow(int64_t{data.epochs}, per_epoch, &total))
    throw sj::Error({}, fmt::format("--epochs {}: {} epochs of {} batches are more steps than "
                                    "a 64-bit count holds",
                                    data.epochs, data.epochs, per_epoch));
  sj::Graph model = g; // the forward graph with its loss, for the final metrics
  g = build_step(std::move(g), "train", true, request, spec);
  Runner runner(g, interpret, verbose, threads, numerics.check);
  load_initial(runner, checkpoints.init, spec);
  std::optional<Runner> val_runner;
  if (validation) val_runner.emplace(model, interpret, false, threads);
  Progress progress(total, per_epoch, !verbose);
  double epoch_sum = 0;
  int64_t epoch_start = 0;
  double epoch_time = 0;
  for (int64_t step = 0; step < total; ++step) {
    int64_t epoch = step / per_epoch, index = step % per_epoch;
    auto [bx, by] = batcher.batch(epoch, index);
    auto where = [&] {
      return fmt::format("epoch {}, step {}, batch rows {} of --x/--y", epoch + 1, step + 1,
                         rows_str(batcher.batch_indices(epoch, index)));
    };
    double loss = 0;
    try {
      loss = runner.run({{x_name, std::move(bx)}, {y_name, std::move(by)}}).at("loss").as_double(0);
    } catch (const sj::Error& e) {
      progress.clear();
      fail_in_step(e, where());
    }
    if (!std::isfinite(loss)) {
      progress.clear();
      check_loss(loss, numerics, spec, where());
    }
    epoch_sum += loss;
    progress.step(step + 1, loss);
    if (verbose) std::cout << fmt::format("step {:>5}  loss {:.7g}\n", step + 1, loss);
    if (index + 1 == per_epoch || step + 1 == total) {
      double now = progress.seconds(), rate = (step + 1 - epoch_start) / (now - epoch_time);
      progress.clear();
      std::string val;
      if (validation) {
        copy_variables(runner, *val_runner);
        Measured m = measure(model, *val_runner, *validation, x_name, y_name, loss_kind);
        val = fmt::format("  val_loss {:.7g}{}", m.loss,
                          m.accuracy ? fmt::format(", val_accuracy {:.4f}", *m.accuracy) : "");
      }
      std::cout << fmt::format("epoch {:>3}  mean loss {:.7g}  ({} steps, {:.0f} steps/s){}\n",
                               epoch + 1, epoch_sum / double(index + 1), index + 1, rate, val);
      std::cout.flush();
      epoch_sum = 0;
      epoch_start = step + 1;
      epoch_time = progress.seconds(); // validation is not training time
    }
  }
  progress.clear();
  std::cout << fmt::format("trained {} steps in {:.3g} s ({:.0f} steps/s, {})\n", total,
                           progress.seconds(), progress.steps_per_second(total),
                           interpret ? "interpreter" : "compiled");
  print_skipped(g, runner);
  print_final_metrics(model, runner, batcher, x_name, y_name, loss_kind, interpret, threads);
  if (!checkpoints.save.empty()) {
    sj::save_checkpoint(checkpoints.save, runner.variables());
    std::cout << fmt::format("saved {} variables to {}\n", runner.variables().all().size(),
                             checkpoints.save);
  }
  return 0;
}

} // namespace sj::cli

// stepjit train: the training step of a model file, on fixed feeds or on mini-batches of arrays.
#include "runtime/batcher.h"
#include "runtime/checkpoint.h"
#include "runtime/npy.h"
#include "tools/commands.h"
#include "tools/common.h"

#include <fmt/format.h>
#include <iostream>

namespace sj::cli {

int run_train(const std::string& file, const std::vector<std::string>& inputs, int steps,
              bool interpret, bool verbose, bool full, bool show_variables,
              const GradientRequest& request, const sj::OptimizerSpec& spec,
              const CheckpointFlags& checkpoints) {
  sj::Graph g = build_step(load(file), "train", true, request, spec);
  auto feeds = read_feeds(g, inputs);
  Runner runner(g, interpret, verbose);
  load_initial(runner, checkpoints.init);
  double first = 0, last = 0;
  for (int step = 1; step <= steps; ++step) {
    auto outputs = runner.run(feeds);
    last = outputs.at(request.loss).as_double(0);
    if (step == 1) first = last;
    std::cout << fmt::format("step {:>4}  {} {:.7g}\n", step, request.loss, last);
  }
  std::cout << fmt::format("{} {:.7g} -> {:.7g} over {} steps ({})\n", request.loss, first, last,
                           steps, interpret ? "interpreter" : "compiled");
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
                   const CheckpointFlags& checkpoints) {
  sj::Graph g = load(file);
  sj::Tensor x = sj::read_npy(data.x), y = sj::read_npy(data.y);
  auto [x_name, y_name] = prepare_loss(g, request, y.dtype());
  sj::TensorType x_type = g.type(*g.find(x_name));
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
  if (y.rank() + 1 == y_type.rank() && y_type.shape.back() == 1 && y.dtype() == y_type.dtype) {
    sj::Shape s = y.shape();
    s.push_back(1);
    sj::Tensor r({y.dtype(), s});
    std::copy(y.bytes().begin(), y.bytes().end(), r.bytes().begin());
    y = std::move(r);
  }
  sj::Batcher batcher(std::move(x), std::move(y),
                      {.batch_size = batch, .shuffle = data.shuffle, .seed = data.seed});
  int64_t per_epoch = batcher.batches_per_epoch();
  int64_t total = data.epochs > 0 ? data.epochs * per_epoch : steps;
  g = build_step(std::move(g), "train", true, request, spec);
  Runner runner(g, interpret, verbose);
  load_initial(runner, checkpoints.init);
  double epoch_sum = 0;
  for (int64_t step = 0; step < total; ++step) {
    int64_t epoch = step / per_epoch, index = step % per_epoch;
    auto [bx, by] = batcher.batch(epoch, index);
    double loss =
        runner.run({{x_name, std::move(bx)}, {y_name, std::move(by)}}).at("loss").as_double(0);
    epoch_sum += loss;
    if (verbose) std::cout << fmt::format("step {:>5}  loss {:.7g}\n", step + 1, loss);
    if (index + 1 == per_epoch || step + 1 == total) {
      std::cout << fmt::format("epoch {:>3}  mean loss {:.7g}\n", epoch + 1,
                               epoch_sum / double(index + 1));
      epoch_sum = 0;
    }
  }
  if (!checkpoints.save.empty()) {
    sj::save_checkpoint(checkpoints.save, runner.variables());
    std::cout << fmt::format("saved {} variables to {}\n", runner.variables().all().size(),
                             checkpoints.save);
  }
  return 0;
}

} // namespace sj::cli

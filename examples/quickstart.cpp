// The README's quick start, as a program that runs in the test suite: a classifier built with
// layers, trained in mini-batches on a generated data set, saved to a checkpoint, loaded into a
// fresh inference step and checked. It also writes the data set and the model's text IR to
// DIR (default: .), for the shell half of the quick start.
//
//   build/examples/quickstart out/
#include "frontend/layers.h"
#include "frontend/losses.h"
#include "frontend/optimizers.h"
#include "graph/initializers.h"
#include "runtime/batcher.h"
#include "runtime/checkpoint.h"
#include "runtime/export.h"
#include "runtime/npy.h"
#include "runtime/training.h"

#include <cmath>
#include <cstdio>
#include <filesystem>

int main(int argc, char** argv) {
  std::string dir = argc > 1 ? argv[1] : ".";
  std::filesystem::create_directories(dir);
  using sj::DType;
  try {
    // 1. Data: three Gaussian blobs in 2-D, 600 examples, labels 0, 1, 2.
    constexpr int64_t kExamples = 600;
    const float centers[3][2] = {{-2, 0}, {2, 0}, {0, 3}};
    sj::Tensor noise = sj::random_normal({DType::f32, {kExamples, 2}}, 7);
    std::vector<float> xs(kExamples * 2);
    std::vector<int32_t> labels(kExamples);
    for (int64_t i = 0; i < kExamples; ++i) {
      labels[i] = int32_t(i % 3);
      for (int d = 0; d < 2; ++d)
        xs[i * 2 + d] = centers[i % 3][d] + 0.6f * noise.data<float>()[i * 2 + d];
    }
    sj::Tensor x_all = sj::Tensor::from<float>({kExamples, 2}, xs);
    sj::Tensor y_all = sj::Tensor::from<int32_t>({kExamples}, labels);

    // 2. The model, its loss, and the whole training step compiled to one native function.
    sj::Graph g("blobs");
    auto x = sj::input(g, "x", {DType::f32, {32, 2}});
    auto y = sj::input(g, "labels", {DType::i32, {32}});
    sj::Sequential model(sj::Dense(16, sj::Activation::relu), sj::Dense(3));
    auto loss = sj::sparse_categorical_crossentropy_from_logits(model(x), y);
    sj::Adam adam({.learning_rate = 0.01});
    auto step = sj::compile_training_step(loss, model.trainable_variables(), adam);

    // 3. Train: 10 epochs of shuffled mini-batches of 32.
    sj::Batcher batcher(x_all, y_all, {.batch_size = 32, .shuffle = true, .seed = 1});
    double first = 0, last = 0;
    for (int64_t epoch = 0; epoch < 10; ++epoch) {
      double sum = 0;
      for (int64_t i = 0; i < batcher.batches_per_epoch(); ++i) {
        auto [bx, by] = batcher.batch(epoch, i);
        sum += step.run({{"x", bx}, {"labels", by}}).at("loss").as_double(0);
      }
      last = sum / double(batcher.batches_per_epoch());
      if (epoch == 0) first = last;
      std::printf("epoch %2lld  mean loss %.5f\n", (long long)epoch + 1, last);
    }

    // 4. Save every variable: weights, Adam's slots and step counter.
    std::string checkpoint = dir + "/blobs.safetensors";
    sj::save_checkpoint(checkpoint, step.variables());

    // 5. A fresh inference graph over all 600 examples, using the same layers (they declare
    //    same-named variables there), with its weights loaded from the file.
    sj::Graph infer("blobs_predict");
    sj::output("logits", model(sj::input(infer, "x", {DType::f32, {kExamples, 2}})));
    auto predict = sj::CompiledStep::compile(infer);
    sj::load_checkpoint(checkpoint, predict.variables(), {.ignore_extra = true});
    const sj::Tensor& logits = predict.run({{"x", x_all}}).at("logits");
    int64_t right = 0;
    for (int64_t i = 0; i < kExamples; ++i) {
      const float* row = logits.data<float>() + i * 3;
      right += std::max_element(row, row + 3) - row == labels[i];
    }
    double accuracy = double(right) / double(kExamples);
    std::printf("loss %.4f -> %.4f; reloaded model: accuracy %.3f on %lld examples\n", first, last,
                accuracy, (long long)kExamples);

    // 6. For the shell: the data, and the forward model as text IR (batch 32).
    sj::write_npy(dir + "/x.npy", x_all);
    sj::write_npy(dir + "/labels.npy", y_all);
    sj::write_npy(
        dir + "/x_new.npy",
        sj::Tensor::from<float>({32, 2}, std::vector<float>(xs.begin(), xs.begin() + 64)));
    sj::Graph forward("blobs");
    sj::Sequential fresh(sj::Dense(16, sj::Activation::relu), sj::Dense(3));
    sj::output("logits", fresh(sj::input(forward, "x", {DType::f32, {32, 2}})));
    sj::export_model(forward, dir + "/blobs.sj");
    std::printf("wrote %s/{blobs.safetensors, x.npy, labels.npy, x_new.npy, blobs.sj}\n",
                dir.c_str());
    return last < first && accuracy >= 0.95 ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
}

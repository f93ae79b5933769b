// A convolutional network with batch normalization and a residual block, written with the
// layers in the functional style, trained on the generated "shapes" images (examples/shapes.h,
// docs/data.md), checkpointed, reloaded into an inference step and measured on a held-out test
// set. Runs in the test suite: it exits non-zero unless the test accuracy reaches 0.9.
//
//   build/examples/cnn [OUT_DIR] [--epochs N] [--threads T]
//
// Into OUT_DIR (default .) it writes the checkpoint, the data as .npy files and the model's text
// IR (shapes_cnn_train.sj, shapes_cnn.sj), for `stepjit train` / `stepjit predict` on the same
// images (docs/layers.md shows the commands).
#include "examples/shapes.h"
#include "frontend/layers.h"
#include "frontend/losses.h"
#include "frontend/optimizers.h"
#include "runtime/batcher.h"
#include "runtime/checkpoint.h"
#include "runtime/export.h"
#include "runtime/npy.h"
#include "runtime/training.h"

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>

namespace {

constexpr int64_t kBatch = 32, kTrain = 2048, kTest = 512;

// input -> Conv2D(16, 3x3) -> BN -> relu -> [residual: Conv-BN-relu-Conv-BN, + skip] -> relu
//       -> MaxPooling2D(2) -> Conv2D(32, 3x3) -> BN -> relu -> GlobalAveragePooling2D -> Dense(4)
// Convolutions before a batch norm have no bias (the norm's beta is the offset). The norms'
// momentum is 0.9, not Keras's 0.99: with 0.99 the moving statistics of a 256-step run still
// weigh their initial values by 0.99^256 = 8% (a variance of 1 against a batch variance near
// 0.01), and inference on them is wrong.
struct Model {
  sj::Conv2D stem{16, {3, 3}, {.padding = sj::Padding::same(), .use_bias = false}};
  sj::BatchNormalization stem_bn{{.momentum = 0.9}};
  sj::Conv2D res1{16, {3, 3}, {.padding = sj::Padding::same(), .use_bias = false}};
  sj::BatchNormalization res1_bn{{.momentum = 0.9}};
  sj::Conv2D res2{16, {3, 3}, {.padding = sj::Padding::same(), .use_bias = false}};
  sj::BatchNormalization res2_bn{{.momentum = 0.9}};
  sj::MaxPooling2D pool{{2, 2}};
  sj::Conv2D conv{32, {3, 3}, {.padding = sj::Padding::same(), .use_bias = false}};
  sj::BatchNormalization conv_bn{{.momentum = 0.9}};
  sj::GlobalAveragePooling2D gap;
  sj::Dense head{shapes::kClasses};

  sj::Value operator()(sj::Value x, sj::CallMode mode) {
    sj::Value h = sj::relu(stem_bn(stem(x), mode));
    sj::Value r = sj::relu(res1_bn(res1(h), mode));
    r = res2_bn(res2(r), mode);
    h = sj::relu(h + r); // the residual connection
    h = sj::relu(conv_bn(conv(pool(h)), mode));
    return head(gap(h));
  }
  std::vector<sj::Value> trainable_variables() const {
    std::vector<sj::Value> vars;
    for (const sj::Layer* l : std::initializer_list<const sj::Layer*>{
             &stem, &stem_bn, &res1, &res1_bn, &res2, &res2_bn, &conv, &conv_bn, &head})
      for (const sj::Value& v : l->trainable_variables())
        vars.push_back(v);
    return vars;
  }
};

double accuracy(const sj::Tensor& logits, const sj::Tensor& labels) {
  int64_t n = labels.num_elements(), right = 0;
  for (int64_t i = 0; i < n; ++i) {
    const float* row = logits.data<float>() + i * shapes::kClasses;
    right += std::max_element(row, row + shapes::kClasses) - row == labels.data<int32_t>()[i];
  }
  return double(right) / double(n);
}

} // namespace

int main(int argc, char** argv) {
  std::string dir = ".";
  int epochs = 4, threads = 1;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--epochs") && i + 1 < argc)
      epochs = std::atoi(argv[++i]);
    else if (!std::strcmp(argv[i], "--threads") && i + 1 < argc)
      threads = std::atoi(argv[++i]);
    else
      dir = argv[i];
  }
  std::filesystem::create_directories(dir);
  using sj::DType;
  try {
    shapes::DataSet train = shapes::generate(kTrain, 1), test = shapes::generate(kTest, 2);

    // The training step: the batch statistics in the normalizations, Adam on the weights.
    sj::Graph g("shapes_cnn");
    Model model;
    auto x = sj::input(g, "x", {DType::f32, {kBatch, shapes::kSize, shapes::kSize, 1}});
    auto y = sj::input(g, "labels", {DType::i32, {kBatch}});
    auto loss =
        sj::sparse_categorical_crossentropy_from_logits(model(x, sj::CallMode::training), y);
    sj::Adam adam({.learning_rate = 0.003});
    auto t0 = std::chrono::steady_clock::now();
    auto step =
        sj::compile_training_step(loss, model.trainable_variables(), adam, {.threads = threads});
    double compile_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

    sj::Batcher batcher(train.images, train.labels,
                        {.batch_size = kBatch, .shuffle = true, .seed = 1});
    t0 = std::chrono::steady_clock::now();
    double first = 0, last = 0;
    for (int epoch = 0; epoch < epochs; ++epoch) {
      double sum = 0;
      for (int64_t i = 0; i < batcher.batches_per_epoch(); ++i) {
        auto [bx, by] = batcher.batch(epoch, i);
        sum += step.run({{"x", bx}, {"labels", by}}).at("loss").as_double(0);
      }
      last = sum / double(batcher.batches_per_epoch());
      if (epoch == 0) first = last;
      std::printf("epoch %d  mean loss %.4f\n", epoch + 1, last);
    }
    double train_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

    // Checkpoint every variable (weights, moving statistics, Adam's slots), then reload the
    // weights and statistics into an inference step over the whole test set: the same layers
    // declare same-named variables in the new graph, in inference mode (moving statistics).
    std::string checkpoint = dir + "/shapes_cnn.safetensors";
    sj::save_checkpoint(checkpoint, step.variables());
    sj::Graph infer("shapes_cnn_predict");
    sj::output("logits",
               model(sj::input(infer, "x", {DType::f32, {kTest, shapes::kSize, shapes::kSize, 1}}),
                     sj::CallMode::inference));
    auto predict = sj::CompiledStep::compile(infer, {.threads = threads});
    sj::load_checkpoint(checkpoint, predict.variables(), {.ignore_extra = true});
    double acc = accuracy(predict.run({{"x", test.images}}).at("logits"), test.labels);
    std::printf("loss %.4f -> %.4f; test accuracy %.3f on %lld images (compile %.2f s, training "
                "%.1f ms per step)\n",
                first, last, acc, (long long)kTest, compile_s,
                1e3 * train_s / double(epochs * batcher.batches_per_epoch()));

    // For the shell: the data, and the model (batch 32) as text IR twice: in training mode
    // (batch statistics, the moving statistics' updates) for `stepjit train`, in inference mode
    // for `stepjit predict`. Fresh layers: their variables start at their initializers.
    sj::write_npy(dir + "/shapes_x.npy", train.images);
    sj::write_npy(dir + "/shapes_labels.npy", train.labels);
    sj::write_npy(dir + "/shapes_test_x.npy", test.images);
    sj::write_npy(dir + "/shapes_test_labels.npy", test.labels);
    for (sj::CallMode mode : {sj::CallMode::training, sj::CallMode::inference}) {
      bool training = mode == sj::CallMode::training;
      sj::Graph forward(training ? "shapes_cnn_train" : "shapes_cnn");
      Model fresh;
      auto fx = sj::input(forward, "x", {DType::f32, {kBatch, shapes::kSize, shapes::kSize, 1}});
      auto logits = fresh(fx, mode);
      sj::output("logits", logits);
      if (training) {
        auto labels = sj::input(forward, "labels", {DType::i32, {kBatch}});
        sj::output("loss", sj::sparse_categorical_crossentropy_from_logits(logits, labels));
      }
      sj::export_model(forward, dir + (training ? "/shapes_cnn_train.sj" : "/shapes_cnn.sj"));
    }
    return (epochs == 1 || last < first) && acc >= 0.9 ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
}

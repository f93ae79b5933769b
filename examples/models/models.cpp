// The benchmark workloads of examples/models/*.sj, built in C++ with the layers API: a shared
// library for `stepjit export` (the files are its output, and a test keeps them in sync).
//
//   $ stepjit export build/examples/libstepjit_models.so --out-dir examples/models
#include "frontend/gpt.h"
#include "frontend/layers.h"
#include "frontend/losses.h"
#include "runtime/export.h"

using sj::Activation;
using sj::Dense;
using sj::DType;

// Dense(100 -> 10, relu) -> Dense(10 -> 1) on a batch of 32; mean squared error against y.
STEPJIT_MODEL(seed) {
  sj::Graph g("seed");
  auto x = sj::input(g, "x", {DType::f32, {32, 100}});
  auto y = sj::input(g, "y", {DType::f32, {32, 1}});
  sj::Sequential model(Dense(10, Activation::relu), Dense(1));
  auto pred = model(x);
  sj::output("pred", pred);
  sj::output("loss", sj::mean_squared_error(pred, y));
  return g;
}

// 784 -> 512 relu -> 512 relu -> 10 on a batch of 128; softmax cross-entropy against integer
// labels (the shape of MNIST).
STEPJIT_MODEL(mlp) {
  sj::Graph g("mlp");
  auto x = sj::input(g, "x", {DType::f32, {128, 784}});
  auto labels = sj::input(g, "labels", {DType::i32, {128}});
  sj::Sequential model(Dense(512, Activation::relu), Dense(512, Activation::relu), Dense(10));
  auto logits = model(x);
  sj::output("logits", logits);
  sj::output("loss", sj::sparse_categorical_crossentropy_from_logits(logits, labels));
  return g;
}

// 1024 -> 4096 relu -> 1024 on a batch of 256; mean squared error against y. GEMM-bound.
STEPJIT_MODEL(wide) {
  sj::Graph g("wide");
  auto x = sj::input(g, "x", {DType::f32, {256, 1024}});
  auto y = sj::input(g, "y", {DType::f32, {256, 1024}});
  sj::Sequential model(Dense(4096, Activation::relu), Dense(1024));
  auto pred = model(x);
  sj::output("pred", pred);
  sj::output("loss", sj::mean_squared_error(pred, y));
  return g;
}

// Keras's "simple MNIST convnet" (dropout left out): 28x28x1 -> Conv2D(32, 3x3, relu) ->
// MaxPooling2D(2) -> Conv2D(64, 3x3, relu) -> MaxPooling2D(2) -> Flatten -> Dense(10), on a
// batch of 128; softmax cross-entropy against integer labels.
STEPJIT_MODEL(cnn) {
  sj::Graph g("cnn");
  auto x = sj::input(g, "x", {DType::f32, {128, 28, 28, 1}});
  auto labels = sj::input(g, "labels", {DType::i32, {128}});
  sj::Sequential model(sj::Conv2D(32, {3, 3}, {.activation = Activation::relu}),
                       sj::MaxPooling2D({2, 2}),
                       sj::Conv2D(64, {3, 3}, {.activation = Activation::relu}),
                       sj::MaxPooling2D({2, 2}), sj::Flatten(), Dense(10));
  auto logits = model(x);
  sj::output("logits", logits);
  sj::output("loss", sj::sparse_categorical_crossentropy_from_logits(logits, labels));
  return g;
}

// nanoGPT's CPU configuration of GPT-2's architecture (sj::GPT, GPT-2's variable names): batch
// 12, context 64, 4 layers, 4 heads, 128 channels, a vocabulary of 65 characters; the mean
// next-token cross-entropy against the targets y.
STEPJIT_MODEL(gpt) {
  sj::Graph g("gpt");
  auto x = sj::input(g, "x", {DType::i32, {12, 64}});
  auto y = sj::input(g, "y", {DType::i32, {12, 64}});
  sj::GPT gpt({.vocab = 65, .context = 64, .layers = 4, .heads = 4, .channels = 128});
  auto logits = gpt(x, sj::CallMode::training);
  sj::output("logits", logits);
  sj::output("loss", gpt.loss(logits, y));
  return g;
}

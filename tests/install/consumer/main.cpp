// Trains a tiny model through the installed package: the umbrella header, the library, the JIT.
#include <cstdio>
#include <stepjit.h>

int main() {
  sj::Graph g("consumer");
  auto x = sj::input(g, "x", {sj::DType::f32, {8, 3}});
  auto y = sj::input(g, "y", {sj::DType::f32, {8, 1}});
  sj::Sequential model(sj::Dense(4, sj::Activation::tanh), sj::Dense(1));
  auto loss = sj::mean_squared_error(model(x), y);
  sj::Adam adam({.learning_rate = 0.05});
  auto step = sj::compile_training_step(loss, model.trainable_variables(), adam);
  std::map<std::string, sj::Tensor> batch{{"x", sj::random_normal({sj::DType::f32, {8, 3}}, 1)},
                                          {"y", sj::random_normal({sj::DType::f32, {8, 1}}, 2)}};
  float first = step.run(batch).at("loss").data<float>()[0], last = first;
  for (int i = 0; i < 50; ++i)
    last = step.run(batch).at("loss").data<float>()[0];
  std::printf("consumer: loss %g -> %g\n", first, last);
  return last < first ? 0 : 1;
}

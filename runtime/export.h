// Models built in C++, as text IR for the shell: `sj::export_model` writes one graph to a file,
// and STEPJIT_MODEL registers model-building functions in a shared library that
// `stepjit export LIB.so` loads, builds and writes out.
//
//   // models.cpp, built as a shared library (add_library(my_models MODULE models.cpp)):
//   STEPJIT_MODEL(seed) {
//     sj::Graph g("seed");
//     auto x = sj::input(g, "x", {sj::DType::f32, {32, 100}});
//     sj::Sequential model(sj::Dense(10, sj::Activation::relu), sj::Dense(1));
//     sj::output("pred", model(x));
//     return g;
//   }
//
//   $ stepjit export libmy_models.so --model seed -o seed.sj
#pragma once

#include "graph/graph.h"

#include <functional>
#include <string>

namespace sj {

/// Verifies `g` and writes its text form to `path` atomically (sj::Error naming the path and
/// the cause on failure; an existing file is then left intact).
void export_model(const Graph& g, const std::string& path);

/// Adds a model-building function to this program's (or shared library's) registry, which the
/// C entry point `stepjit_export_models` enumerates. Use STEPJIT_MODEL rather than calling it.
bool register_model(const char* name, std::function<Graph()> build);

/// The C interface `stepjit export` finds with dlsym in a loaded library: builds every
/// registered model in registration order and calls `emit` with its name and either its text
/// IR (error null) or the message of the sj::Error its building threw (text null). Text, not
/// objects, crosses the boundary: the library may hold its own copy of stepjit.
extern "C" using ExportEmit =
    void(void* context, const char* name, const char* text, const char* error);
extern "C" int stepjit_export_models(ExportEmit* emit, void* context);

} // namespace sj

/// Defines and registers a model-building function `sj::Graph NAME()`; the body returns the graph.
#define STEPJIT_MODEL(name)                                                                        \
  static ::sj::Graph stepjit_model_##name();                                                       \
  [[maybe_unused]] static const bool stepjit_model_registered_##name =                             \
      ::sj::register_model(#name, &stepjit_model_##name);                                          \
  static ::sj::Graph stepjit_model_##name()

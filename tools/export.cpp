// stepjit export: the models a C++ shared library registers with STEPJIT_MODEL, as text IR.
#include "runtime/export.h"

#include "graph/parse.h"
#include "graph/print.h"
#include "graph/verify.h"
#include "runtime/file_util.h"
#include "tools/commands.h"

#include <dlfcn.h>
#include <filesystem>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <iostream>

namespace sj::cli {

namespace {

struct Exported {
  std::string name, text, error;
};

// Loads the library and builds its models. The library stays loaded for the process's life:
// unloading code whose static destructors may still be pending is not worth the risk.
std::vector<Exported> models_of(const std::string& library) {
  // dlopen searches the library path for a bare name; a file argument means this file.
  std::string path = library.find('/') == std::string::npos ? "./" + library : library;
  if (!std::filesystem::exists(path))
    throw sj::Error({library, 0, 0}, fmt::format("export: no such file '{}'", library));
  sj::InputFile{path}; // a regular file: dlopen would wait forever on a FIFO
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle)
    throw sj::Error({library, 0, 0}, fmt::format("export: cannot load '{}' as a shared library: {}",
                                                 library, dlerror()));
  auto* entry =
      reinterpret_cast<decltype(&stepjit_export_models)>(dlsym(handle, "stepjit_export_models"));
  if (!entry)
    throw sj::Error({library, 0, 0},
                    fmt::format("export: '{}' registers no models (it has no symbol "
                                "stepjit_export_models: define models with STEPJIT_MODEL from "
                                "<stepjit.h> or runtime/export.h and link stepjit)",
                                library));
  std::vector<Exported> models;
  entry(
      [](void* context, const char* name, const char* text, const char* error) {
        static_cast<std::vector<Exported>*>(context)->push_back(
            {name, text ? text : "", error ? error : ""});
      },
      &models);
  if (models.empty())
    throw sj::Error(
        {library, 0, 0},
        fmt::format("export: '{}' registers no models (no STEPJIT_MODEL ran)", library));
  return models;
}

// The model's graph, parsed back and verified: what crosses the library boundary is text, and
// it must be text the rest of stepjit accepts.
sj::Graph graph_of(const Exported& m, const std::string& library) {
  if (!m.error.empty())
    throw sj::Error({}, fmt::format("export: building model '{}' of '{}' failed:\n{}", m.name,
                                    library, m.error));
  sj::Graph g = sj::parse(m.text, fmt::format("{}:{}", library, m.name));
  sj::verify(g);
  return g;
}

} // namespace

int run_export(const ExportFlags& flags) {
  std::vector<Exported> models = models_of(flags.library);
  std::vector<std::string> names;
  for (const Exported& m : models)
    names.push_back(m.name);
  if (flags.list) {
    for (const Exported& m : models)
      std::cout << m.name << (m.error.empty() ? "" : "  (fails to build: --model shows why)")
                << "\n";
    return 0;
  }
  std::vector<const Exported*> chosen;
  for (const std::string& want : flags.models) {
    auto it = std::find_if(models.begin(), models.end(),
                           [&](const Exported& m) { return m.name == want; });
    if (it == models.end())
      throw sj::Error({}, fmt::format("export --model {}: '{}' has no model named '{}' (its "
                                      "models: {})",
                                      want, flags.library, want, fmt::join(names, ", ")));
    chosen.push_back(&*it);
  }
  if (chosen.empty()) {
    if (models.size() > 1 && flags.out_dir.empty())
      throw sj::Error({}, fmt::format("export: '{}' has {} models ({}): choose one with --model, "
                                      "or write them all with --out-dir",
                                      flags.library, models.size(), fmt::join(names, ", ")));
    for (const Exported& m : models)
      chosen.push_back(&m);
  }
  if (chosen.size() > 1 && !flags.out.empty())
    throw sj::Error({}, "export: -o writes one model; use --out-dir DIR for several");

  if (!flags.out_dir.empty()) create_directory(flags.out_dir, "--out-dir");
  for (const Exported* m : chosen) {
    sj::Graph g = graph_of(*m, flags.library);
    std::string path = !flags.out.empty() ? flags.out
                       : !flags.out_dir.empty()
                           ? (std::filesystem::path(flags.out_dir) / (m->name + ".sj")).string()
                           : "";
    if (path.empty()) {
      std::cout << sj::print(g);
      continue;
    }
    sj::export_model(g, path);
    std::cout << fmt::format("wrote model '{}' ({} nodes, {} variables) to {}\n", m->name, g.size(),
                             g.nodes_of(sj::Op::variable).size(), path);
  }
  return 0;
}

} // namespace sj::cli

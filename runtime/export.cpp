#include "runtime/export.h"

#include "graph/error.h"
#include "graph/print.h"
#include "graph/verify.h"
#include "runtime/file_util.h"

#include <utility>
#include <vector>

namespace sj {

void export_model(const Graph& g, const std::string& path) {
  verify(g);
  std::string text = print(g);
  write_file_atomically(path, {std::as_bytes(std::span(text.data(), text.size()))});
}

namespace {

// Function-local, so registrations from static initializers in other files find it built.
std::vector<std::pair<std::string, std::function<Graph()>>>& registry() {
  static std::vector<std::pair<std::string, std::function<Graph()>>> models;
  return models;
}

} // namespace

bool register_model(const char* name, std::function<Graph()> build) {
  registry().emplace_back(name, std::move(build));
  return true;
}

extern "C" int stepjit_export_models(ExportEmit* emit, void* context) {
  for (const auto& [name, build] : registry()) {
    try {
      Graph g = build();
      verify(g);
      std::string text = print(g);
      emit(context, name.c_str(), text.c_str(), nullptr);
    } catch (const std::exception& e) {
      emit(context, name.c_str(), nullptr, e.what());
    }
  }
  return static_cast<int>(registry().size());
}

} // namespace sj

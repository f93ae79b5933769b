// libFuzzer target: safetensors checkpoints (runtime/checkpoint.h), loaded from a file.
//
// Promises checked, for every input:
//   - parse_safetensors (bytes), read_safetensors and read_safetensors_metadata (the file)
//     return or throw sj::Error, nothing else; the two full readers agree on the same bytes;
//   - when the file reads: its metadata reader gives the same metadata; load_checkpoint into
//     variables of the tensors' names and types (those a graph can declare) loads exactly
//     the file's values, and into variables of other types fails with sj::Error leaving every
//     variable as it was;
//   - serialize_safetensors -> parse_safetensors gives the tensors and metadata back.
#include "graph/builder.h"
#include "runtime/checkpoint.h"
#include "tests/fuzz/fuzz_util.h"
#include "tests/fuzz/temp_file.h"

using namespace sj;

namespace {

/// A graph with one variable per tensor that a graph can declare (valid name and type; at most
/// 64 of them), and whether every tensor was one.
std::pair<Graph, bool> variables_for(const std::map<std::string, Tensor>& tensors,
                                     bool other_types) {
  Graph g("fuzz");
  bool all = true;
  int n = 0;
  for (const auto& [name, t] : tensors) {
    TensorType type = t.type();
    if (other_types) type.dtype = type.dtype == DType::f32 ? DType::f64 : DType::f32;
    bool ok = n < 64 && is_valid_name(name) &&
              !fuzz::sj_error_of("Graph::add(variable)", [&] { variable(g, name, type); });
    all = all && ok;
    n += ok;
  }
  return {std::move(g), all};
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Safetensors parsed;
  auto err = fuzz::sj_error_of("parse_safetensors", [&] {
    parsed = parse_safetensors(fuzz::as_bytes(data, size), "in.safetensors");
  });

  const std::string& path = fuzz::write_temp_file(".safetensors", data, size);
  std::map<std::string, Tensor> from_file;
  auto file_err =
      fuzz::sj_error_of("read_safetensors", [&] { from_file = read_safetensors(path); });
  CheckpointMetadata metadata;
  auto meta_err = fuzz::sj_error_of("read_safetensors_metadata",
                                    [&] { metadata = read_safetensors_metadata(path); });
  if (err.has_value() != file_err.has_value())
    fuzz::fail("parse_safetensors and read_safetensors disagree on the same bytes: " +
               (err ? *err : std::string("parse accepts")) + " / " +
               (file_err ? *file_err : std::string("read accepts")));
  if (err) return 0;
  if (from_file != parsed.tensors) fuzz::fail("read_safetensors and parse_safetensors differ");
  if (meta_err) fuzz::fail("a file that reads has metadata that does not: " + *meta_err);
  if (metadata != parsed.metadata) fuzz::fail("read_safetensors_metadata differs from the file's");

  // Loading into variables of the same names and types gives exactly the file's values.
  auto [g, all] = variables_for(parsed.tensors, false);
  Variables vars(g);
  if (auto e = fuzz::sj_error_of("load_checkpoint",
                                 [&] { load_checkpoint(path, vars, {.ignore_extra = !all}); }))
    fuzz::fail("load_checkpoint refuses variables of the file's own names and types: " + *e);
  for (const auto& [name, value] : vars.all())
    if (!(value == parsed.tensors.at(name)))
      fuzz::fail("load_checkpoint loaded '" + name + "' wrong");

  // Into variables of other dtypes: an sj::Error, and the variables keep their values.
  auto [other, other_all] = variables_for(parsed.tensors, true);
  if (other.size() > 0) {
    Variables before(other), after(other);
    if (!fuzz::sj_error_of("load_checkpoint",
                           [&] { load_checkpoint(path, after, {.ignore_extra = true}); }))
      fuzz::fail("load_checkpoint accepted tensors of the wrong dtype");
    if (before.all() != after.all()) fuzz::fail("a failed load_checkpoint changed variables");
  }

  // The writer's bytes read back as the same tensors and metadata.
  std::vector<std::byte> written = serialize_safetensors(parsed.tensors, parsed.metadata);
  Safetensors back;
  if (auto e = fuzz::sj_error_of("parse_safetensors(serialize_safetensors(...))", [&] {
        back = parse_safetensors(written, "rewritten.safetensors");
      }))
    fuzz::fail("the writer's file does not read back: " + *e);
  if (back.tensors != parsed.tensors || back.metadata != parsed.metadata)
    fuzz::fail("serialize_safetensors -> parse_safetensors changed the contents");
  return 0;
}

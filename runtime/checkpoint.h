// Checkpoints: every variable of a step saved to and loaded from a safetensors file
// (https://huggingface.co/docs/safetensors), the format of Hugging Face models.
//
//   sj::save_checkpoint("step_1000.safetensors", step.variables(), {{"step", "1000"}});
//   ...
//   sj::Interpreter fresh(graph);
//   sj::load_checkpoint("step_1000.safetensors", fresh.variables());
//
// Optimizer slots ("w.adam_m"), hyperparameters ("adam/learning_rate") and step counters
// ("adam/step") are plain variables, so a checkpoint holds them too and training resumes
// bit-identically. The format, the checks and the guarantees: docs/checkpoints.md.
//
// A file: an 8-byte little-endian header length N, N bytes of JSON
//   {"__metadata__": {"step": "1000"},
//    "w": {"dtype": "F32", "shape": [100, 10], "data_offsets": [0, 4000]}, ...}
// padded with spaces to a multiple of 8, then the tensors' raw little-endian C-order bytes,
// contiguously (offsets are relative to the first data byte). dtypes: F32 F64 I32 I64 BOOL.
//
// Files are untrusted input: a malformed, truncated or unsupported file throws sj::Error located
// at the file ({path, 0, 0}) with the cause in the message; nothing is allocated before the file
// size is known to cover it.
#pragma once

#include "graph/tensor.h"
#include "runtime/variables.h"

#include <cstddef>
#include <map>
#include <span>
#include <string>
#include <vector>

namespace sj {

/// Free-form string pairs stored under "__metadata__" (the step number, the model's name...).
using CheckpointMetadata = std::map<std::string, std::string>;

/// Saves every variable by name, with `metadata`, as a safetensors file. The tensors are laid out
/// as the reference implementation lays them out (8-byte dtypes first, then 4-byte, then bool;
/// by name within a dtype), so each one's data is aligned to its element size, and the file is
/// byte for byte what the reference serializer writes for the same tensors (with metadata keys
/// in sorted order).
///
/// Atomic (write_file_atomically, runtime/file_util.h): writes a temporary file
/// `<path>.tmp.<pid>.<n>` beside the file, flushes it to disk and renames it over `path`. A
/// crash or SIGKILL at any moment leaves the complete old file or the complete new one; it may
/// leave its temporary too, which the next save of the same file removes (only temporaries of
/// that file whose writer process is gone). An error leaves the old file as it was and removes
/// the temporary. The replaced file's permission bits are kept (its owner and group too where
/// this process may set them, e.g. as root; otherwise the file belongs to the writer); a new
/// file gets 0666 minus the umask. A symlink (a chain of up to 40, also a dangling one) is
/// followed: the file it leads to is written and the links stay. Throws sj::Error naming the
/// path and strerror when a file cannot be created, written or renamed, when a directory or
/// device is in the way; also for a variable named "__metadata__" (reserved by the format) or a
/// metadata string that is not valid UTF-8.
void save_checkpoint(const std::string& path, const Variables& variables,
                     const CheckpointMetadata& metadata = {});

struct LoadOptions {
  /// false: the file must hold exactly the variables. true: load the tensors the file holds
  /// (each must still match a variable by name, dtype and shape) and leave the other variables
  /// as they are, e.g. to load pretrained weights without optimizer state.
  bool partial = false;
  /// true: tensors of the file that are not variables are skipped (e.g. a training checkpoint's
  /// optimizer slots, loaded into an inference graph that has only the weights).
  bool ignore_extra = false;
};

/// Loads a checkpoint into `variables`. Checks the whole file (format, data, bool bytes) and every
/// tensor's name, dtype and shape against the variables before changing any of them: on any error
/// (sj::Error listing every mismatch, e.g. "checkpoint tensor 'dense_0/kernel' is f32[10,100] but
/// the variable is f32[100,10]", the variables missing from the file and the tensors in the file
/// that are not variables) no variable changes. Metadata is ignored (read_safetensors_metadata).
/// Needs memory for the new values while the old ones are still held.
void load_checkpoint(const std::string& path, Variables& variables,
                     const LoadOptions& options = {});

/// The contents of a safetensors file.
struct Safetensors {
  std::map<std::string, Tensor> tensors;
  CheckpointMetadata metadata;
};

/// Every tensor of a safetensors file, by name (sj::Error for any malformed file: see the top).
std::map<std::string, Tensor> read_safetensors(const std::string& path);
/// The "__metadata__" of a safetensors file (empty if it has none). The whole header is checked,
/// the tensor data is not read.
CheckpointMetadata read_safetensors_metadata(const std::string& path);

/// Writes any named tensors as a safetensors file, like save_checkpoint (which calls it), with
/// the same layout and atomicity. Names are any valid UTF-8 except "__metadata__".
void write_safetensors(const std::string& path, const std::map<std::string, Tensor>& tensors,
                       const CheckpointMetadata& metadata = {});

/// The bytes write_safetensors writes.
std::vector<std::byte> serialize_safetensors(const std::map<std::string, Tensor>& tensors,
                                             const CheckpointMetadata& metadata = {});
/// Parses the bytes of a whole safetensors file with every check read_safetensors makes;
/// `name_for_errors` is the file name used in error locations.
Safetensors parse_safetensors(std::span<const std::byte> bytes, const std::string& name_for_errors);

/// The largest header accepted (the reference implementation's limit): 100,000,000 bytes.
inline constexpr uint64_t kMaxSafetensorsHeader = 100'000'000;

} // namespace sj

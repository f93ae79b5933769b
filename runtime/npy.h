// NumPy `.npy` files to and from sj::Tensor: feeds, checkpoints, expected outputs.
//
// Supported element types, little-endian and C order only:
//   f32 '<f4'   f64 '<f8'   i32 '<i4'   i64 '<i8'   bool '|b1' (also read: '?', '<b1', ...)
//
// Files are untrusted input: every malformed, truncated or unsupported file throws sj::Error
// located at the file ({path, 0, 0}) with the cause (and a byte offset where it helps) in the
// message; nothing is allocated from header values before the file size is known to cover them.
//
//   sj::Tensor x = sj::read_npy("x.npy");      // np.save("x.npy", np.zeros((32, 100), "f4"))
//   sj::write_npy("y.npy", y);                  // np.load("y.npy") gives y back
#pragma once

#include "graph/tensor.h"

#include <cstddef>
#include <span>
#include <string>
#include <vector>

namespace sj {

/// Reads a .npy file (format version 1.0, 2.0 or 3.0). The file must be a regular file that holds
/// exactly the header and the data: a short file or trailing bytes are errors, and so is a bool
/// byte other than 0 or 1. Throws sj::Error naming `path` and the cause.
Tensor read_npy(const std::string& path);

/// Parses the bytes of a whole .npy file, as read_npy does; `name_for_errors` is the file name
/// used in error locations.
Tensor parse_npy(std::span<const std::byte> bytes, const std::string& name_for_errors);

/// Writes `t` as a version 1.0 .npy file, byte for byte as NumPy's np.save writes it, atomically
/// as checkpoints are (write_file_atomically, runtime/file_util.h): a temporary file
/// `<path>.tmp.<pid>.<n>` beside it, flushed to disk and renamed over `path`, so a crash leaves
/// either the old file or the new one, never half a file (a killed writer's temporary is
/// removed by the next write of the same file). The replaced file's permission bits are kept
/// (owner and group where this process may set them); a new file gets 0666 minus the umask;
/// symlinks are followed, also dangling ones, and stay links. Throws sj::Error naming the path
/// and strerror when a file cannot be created, written or renamed.
void write_npy(const std::string& path, const Tensor& t);

/// The bytes write_npy writes: a NumPy 1.0 header padded to 64 bytes, then the data.
std::vector<std::byte> serialize_npy(const Tensor& t);

} // namespace sj

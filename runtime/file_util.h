// Reading untrusted files and writing files atomically: what .npy arrays and checkpoints share.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace sj {

/// Throws sj::Error located at the file (`path:`), with `message` as the cause.
[[noreturn]] void file_error(const std::string& path, std::string message);
/// strerror's text for an errno value.
std::string errno_text(int err);

/// A regular file open for reading. A FIFO or device is rejected (it could block or never end,
/// and size checks need a real size); opening never blocks.
class InputFile {
public:
  explicit InputFile(const std::string& path);
  ~InputFile();
  InputFile(const InputFile&) = delete;
  InputFile& operator=(const InputFile&) = delete;

  uint64_t size() const { return size_; }
  /// Exactly out.size() bytes from `offset` (sj::Error if the file ends first).
  void read(uint64_t offset, std::span<std::byte> out) const;

private:
  std::string path_;
  int fd_ = -1;
  uint64_t size_ = 0;
};

/// Writes the concatenation of `parts` to `path` atomically: a temporary file beside it, fsync,
/// rename, then the directory synced (best effort). On failure an sj::Error naming the path
/// and the cause; the old file is intact and no temporary file is left. Never replaces a
/// directory or device; through a symlink, replaces the file it points to.
void write_file_atomically(const std::string& path,
                           const std::vector<std::span<const std::byte>>& parts);

} // namespace sj

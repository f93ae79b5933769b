// Reading untrusted files and writing files atomically: what .npy arrays, checkpoints, exported
// models and the CLI share.
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

/// The whole contents of the regular file `path` (read through InputFile: a FIFO, device or
/// directory is refused without blocking). A file of more than `max_bytes` bytes is refused
/// before anything is allocated: "the file has N bytes, more than the M a WHAT may have" (`what`
/// names the kind of file, e.g. "text IR file").
std::string read_file_text(const std::string& path, uint64_t max_bytes, const std::string& what);

/// Everything readable from the open descriptor `fd` (standard input: a pipe, a terminal, a
/// file, even /dev/zero) until end of file, in chunks, keeping at most `max_bytes` bytes: a
/// stream that goes on past them is refused ("more than the M bytes a WHAT may have") after
/// reading at most max_bytes + 1 bytes. A regular file's size is checked before reading. Errors
/// are located at `name` (e.g. "<stdin>"). Blocks while a pipe's writer has not written, like
/// any read of standard input; the descriptor is not closed.
std::string read_stream_text(int fd, const std::string& name, uint64_t max_bytes,
                             const std::string& what);

/// The most symbolic links write_file_atomically follows from the path to the file it writes
/// (the kernel's own limit for path resolution): a longer chain, or a loop, is an error.
inline constexpr int kMaxSymlinkHops = 40;

/// Writes the concatenation of `parts` to `path` atomically: a temporary file beside the file it
/// replaces, named `<name>.tmp.<pid>.<n>` (the writer's process id and a counter), written,
/// flushed with fsync, renamed over the file, then the directory synced (best effort: the
/// rename has happened).
///
/// - **Crashes.** Readers see the complete old file or the complete new one, never a mix or a
///   truncated file, whatever the moment of a crash or SIGKILL. A process killed while writing
///   leaves its temporary behind; the next write_file_atomically of the same file removes the
///   temporaries of that file whose writer is gone: exactly the names `<name>.tmp.<pid>.<n>`
///   beside it, regular files, whose process id is not a live process and which no process
///   holds locked (a writer holds an exclusive flock on its temporary while it writes, so a
///   live writer's temporary is never touched, also one from another PID namespace). A live
///   process that recycled a dead writer's PID keeps its temporary until a later save.
/// - **Errors.** On failure an sj::Error located at `path` naming the cause (strerror); the old
///   file is intact and this call's temporary is removed.
/// - **Mode and owner.** A replaced file's permission bits (`mode & 0777`) are kept; the
///   set-user-ID, set-group-ID and sticky bits are not carried over, nor ACLs or extended
///   attributes. The owner and group are kept when this process may set them (as root, or a
///   group the writer belongs to); otherwise the new file belongs to the writer, as any new
///   file does. A new file gets 0666 minus the umask, as `open` gives it.
/// - **Symlinks.** A symbolic link at `path` is followed, and so is a chain of them (at most
///   kMaxSymlinkHops), also when it dangles: the file it names (a relative target taken
///   relative to the link's directory) is created or replaced, and the links stay links.
/// - Never replaces a directory, device, FIFO or socket: "exists and is not a regular file".
void write_file_atomically(const std::string& path,
                           const std::vector<std::span<const std::byte>>& parts);

} // namespace sj

#include "runtime/file_util.h"

#include "graph/error.h"

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <system_error>
#include <unistd.h>

namespace sj {

namespace {

// A file descriptor closed on scope exit.
class Fd {
public:
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }
  // Closes now, reporting the error (NFS and full disks may report write errors only here).
  int close() {
    int rc = ::close(fd_);
    fd_ = -1;
    return rc;
  }

private:
  int fd_;
};

void write_all(int fd, std::span<const std::byte> bytes, const std::string& path,
               const std::string& tmp) {
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) file_error(path, fmt::format("cannot write '{}': {}", tmp, errno_text(errno)));
    done += static_cast<size_t>(n);
  }
}

// Makes a completed rename durable. Best effort: the new file is already in place, so a failure
// here is not reported as a failed save.
void sync_directory_of(const std::string& file) {
  size_t slash = file.rfind('/');
  std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : file.substr(0, slash);
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  (void)::fsync(fd);
  ::close(fd);
}

} // namespace

void file_error(const std::string& path, std::string message) {
  throw Error(Location{path, 0, 0}, std::move(message));
}

std::string errno_text(int err) { return std::error_code(err, std::generic_category()).message(); }

InputFile::InputFile(const std::string& path)
    // O_NONBLOCK: opening a FIFO must not wait for a writer (it is rejected just below).
    : path_(path), fd_(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK)) {
  if (fd_ < 0) file_error(path, fmt::format("cannot open for reading: {}", errno_text(errno)));
  struct stat st;
  if (::fstat(fd_, &st) != 0) {
    int err = errno;
    ::close(fd_);
    file_error(path, fmt::format("cannot stat: {}", errno_text(err)));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd_);
    file_error(path, "not a regular file");
  }
  size_ = static_cast<uint64_t>(st.st_size);
}

InputFile::~InputFile() {
  if (fd_ >= 0) ::close(fd_);
}

void InputFile::read(uint64_t offset, std::span<std::byte> out) const {
  size_t done = 0;
  while (done < out.size()) {
    ssize_t n =
        ::pread(fd_, out.data() + done, out.size() - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) file_error(path_, fmt::format("cannot read: {}", errno_text(errno)));
    if (n == 0)
      file_error(path_, fmt::format("unexpected end of file at byte {} (did the file shrink "
                                    "while being read?)",
                                    offset + done));
    done += static_cast<size_t>(n);
  }
}

void write_file_atomically(const std::string& path,
                           const std::vector<std::span<const std::byte>>& parts) {
  // The rename would replace whatever is at `target`: never a device or directory, and through a
  // symlink the file it points to (as opening the path for writing would).
  std::string target = path;
  struct stat st;
  if (::stat(path.c_str(), &st) == 0) {
    if (!S_ISREG(st.st_mode))
      file_error(path, "exists and is not a regular file; not replacing it");
    if (char* real = ::realpath(path.c_str(), nullptr)) {
      target = real;
      std::free(real);
    }
  }
  // The temporary sits next to the target so the rename stays within one file system.
  static std::atomic<uint64_t> counter{0};
  std::string tmp;
  int raw_fd = -1;
  for (int attempt = 0; raw_fd < 0; ++attempt) {
    tmp = fmt::format("{}.tmp.{}.{}", target, ::getpid(), counter++);
    raw_fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (raw_fd < 0 && (errno != EEXIST || attempt == 100))
      file_error(path,
                 fmt::format("cannot create the temporary file '{}': {}", tmp, errno_text(errno)));
  }
  Fd fd(raw_fd);
  try {
    for (std::span<const std::byte> part : parts)
      write_all(fd.get(), part, path, tmp);
    if (::fsync(fd.get()) != 0)
      file_error(path, fmt::format("cannot flush '{}' to disk: {}", tmp, errno_text(errno)));
    if (fd.close() != 0)
      file_error(path, fmt::format("cannot write '{}': {}", tmp, errno_text(errno)));
    if (::rename(tmp.c_str(), target.c_str()) != 0)
      file_error(path,
                 fmt::format("cannot rename '{}' to '{}': {}", tmp, target, errno_text(errno)));
  } catch (...) {
    ::unlink(tmp.c_str());
    throw;
  }
  sync_directory_of(target);
}

} // namespace sj

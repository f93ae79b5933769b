#include "runtime/file_util.h"

#include "graph/error.h"

#include <atomic>
#include <cerrno>
#include <csignal>
#include <dirent.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <limits>
#include <optional>
#include <poll.h>
#include <string_view>
#include <sys/file.h>
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
  void reset(int fd) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }
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

namespace {

// "268435456 bytes (256 MiB)": a limit as set and as people think of it.
std::string bytes_text(uint64_t n) {
  if (n >= (uint64_t{1} << 20) && n % (uint64_t{1} << 20) == 0)
    return fmt::format("{} bytes ({} MiB)", n, n >> 20);
  return fmt::format("{} bytes", n);
}

// Where a write to `path` lands: the path after following symbolic links (also a dangling one,
// whose target is created), with the replaced file's status if it exists.
struct Destination {
  std::string target;
  bool exists = false;
  struct stat st {};
};

std::string directory_of(const std::string& file) {
  size_t slash = file.rfind('/');
  return slash == std::string::npos ? "." : slash == 0 ? "/" : file.substr(0, slash);
}

// `dir/name`, without doubling the slash of "/".
std::string joined(const std::string& dir, const std::string& name) {
  return dir == "/" ? "/" + name : dir + "/" + name;
}

std::string base_name_of(const std::string& file) {
  size_t slash = file.rfind('/');
  return slash == std::string::npos ? file : file.substr(slash + 1);
}

// Makes a completed rename durable. Best effort: the new file is already in place, so a failure
// here is not reported as a failed save.
void sync_directory_of(const std::string& file) {
  int fd = ::open(directory_of(file).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  (void)::fsync(fd);
  ::close(fd);
}

Destination destination_of(const std::string& path) {
  Destination d{path};
  for (int hops = 0;; ++hops) {
    // A missing file (or a path that cannot be looked at) is written as a new file; creating
    // the temporary reports why that fails, if it does.
    if (::lstat(d.target.c_str(), &d.st) != 0) return d;
    if (!S_ISLNK(d.st.st_mode)) {
      if (!S_ISREG(d.st.st_mode))
        file_error(path, d.target == path
                             ? "exists and is not a regular file; not replacing it"
                             : fmt::format("the symbolic link leads to '{}', which exists and is "
                                           "not a regular file; not replacing it",
                                           d.target));
      d.exists = true;
      return d;
    }
    if (hops == kMaxSymlinkHops)
      file_error(path, fmt::format("more than {} symbolic links to follow (a loop?); the last "
                                   "one is '{}'",
                                   kMaxSymlinkHops, d.target));
    std::string link(static_cast<size_t>(d.st.st_size > 0 ? d.st.st_size : 255) + 1, '\0');
    for (;;) {
      ssize_t n = ::readlink(d.target.c_str(), link.data(), link.size());
      if (n < 0)
        file_error(path, fmt::format("cannot read the symbolic link '{}': {}", d.target,
                                     errno_text(errno)));
      if (static_cast<size_t>(n) < link.size()) {
        link.resize(static_cast<size_t>(n));
        break;
      }
      link.resize(link.size() * 2); // the link changed (or /proc reports size 0): read again
    }
    if (link.empty()) file_error(path, fmt::format("the symbolic link '{}' is empty", d.target));
    // A relative target is relative to the link's directory. The kernel resolves the joined path
    // the same way (".." after a symlinked directory goes to its real parent), so no lexical
    // normalization here.
    d.target = link.front() == '/' ? link : joined(directory_of(d.target), link);
  }
}

// `<base>.tmp.<pid>.<n>` exactly as write_file_atomically names its temporaries (decimal, no
// sign, no leading zeros, a positive pid): the pid, or 0 for any other name.
pid_t temporary_writer(std::string_view name, std::string_view base) {
  constexpr std::string_view kTmp = ".tmp.";
  if (name.size() <= base.size() + kTmp.size() || name.substr(0, base.size()) != base ||
      name.substr(base.size(), kTmp.size()) != kTmp)
    return 0;
  std::string_view rest = name.substr(base.size() + kTmp.size());
  size_t dot = rest.find('.');
  if (dot == std::string_view::npos) return 0;
  auto decimal = [](std::string_view digits, uint64_t max) -> std::optional<uint64_t> {
    if (digits.empty() || digits.size() > 20 || (digits.size() > 1 && digits[0] == '0'))
      return std::nullopt;
    uint64_t v = 0;
    for (char c : digits) {
      if (c < '0' || c > '9') return std::nullopt;
      uint64_t digit = static_cast<uint64_t>(c - '0');
      if (v > (max - digit) / 10) return std::nullopt;
      v = v * 10 + digit;
    }
    return v;
  };
  auto pid = decimal(rest.substr(0, dot), static_cast<uint64_t>(std::numeric_limits<pid_t>::max()));
  auto counter = decimal(rest.substr(dot + 1), std::numeric_limits<uint64_t>::max());
  if (!pid || !counter || *pid == 0) return 0;
  return static_cast<pid_t>(*pid);
}

// Removes the temporaries that killed writers left beside `target`. Whatever cannot be read,
// locked or removed stays: this is cleanup, never a reason for the save to fail.
void remove_stale_temporaries(const std::string& target) {
  std::string dir = directory_of(target), base = base_name_of(target);
  DIR* d = ::opendir(dir.c_str());
  if (!d) return;
  std::vector<std::string> stale;
  while (dirent* e = ::readdir(d)) {
    pid_t pid = temporary_writer(e->d_name, base);
    // Our own pid: another thread of this process may be saving the same file right now.
    if (pid == 0 || pid == ::getpid()) continue;
    // kill(pid, 0) fails with ESRCH only when no such process exists (EPERM: it lives, as
    // another user's process).
    if (::kill(pid, 0) == 0 || errno != ESRCH) continue;
    stale.emplace_back(e->d_name);
  }
  ::closedir(d);
  for (const std::string& name : stale) {
    std::string file = joined(dir, name);
    int raw = ::open(file.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (raw < 0) continue;
    Fd fd(raw);
    struct stat st;
    if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    // A live writer holds its temporary locked (a writer in another PID namespace has a pid
    // that means nothing here). A file system without locks leaves the pid check alone.
    if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK) continue;
    (void)::unlink(file.c_str());
  }
}

} // namespace

std::string read_file_text(const std::string& path, uint64_t max_bytes, const std::string& what) {
  InputFile file(path);
  if (file.size() > max_bytes)
    file_error(path, fmt::format("the file has {} bytes, more than the {} a {} may have",
                                 file.size(), bytes_text(max_bytes), what));
  std::string text(static_cast<size_t>(file.size()), '\0');
  file.read(0, std::as_writable_bytes(std::span(text)));
  return text;
}

std::string read_stream_text(int fd, const std::string& name, uint64_t max_bytes,
                             const std::string& what) {
  std::string limit = fmt::format("the {} a {} may have", bytes_text(max_bytes), what);
  struct stat st;
  if (::fstat(fd, &st) != 0) file_error(name, fmt::format("cannot stat: {}", errno_text(errno)));
  if (S_ISDIR(st.st_mode)) file_error(name, "is a directory");
  if (S_ISREG(st.st_mode)) {
    off_t at = ::lseek(fd, 0, SEEK_CUR);
    uint64_t left = at >= 0 && at <= st.st_size ? static_cast<uint64_t>(st.st_size - at) : 0;
    if (left > max_bytes)
      file_error(name, fmt::format("the input has {} bytes, more than {}", left, limit));
  }
  // Chunks of 64 KiB into a string that grows geometrically (never past the limit): memory stays
  // within about twice what was read, and reading stops one byte past the limit, however long
  // the stream is.
  std::string text;
  constexpr size_t kChunk = size_t{1} << 16;
  for (;;) {
    if (text.size() > max_bytes)
      file_error(name, fmt::format("the input goes on past {}; stopped reading there", limit));
    size_t want = static_cast<size_t>(std::min<uint64_t>(kChunk, max_bytes + 1 - text.size()));
    size_t old = text.size();
    if (text.capacity() < old + want) {
      uint64_t grown = std::max<uint64_t>(old + want, 2 * text.capacity());
      text.reserve(static_cast<size_t>(grown >= max_bytes ? max_bytes + 1 : grown));
    }
    text.resize(old + want);
    ssize_t n = ::read(fd, text.data() + old, want);
    int err = errno;
    text.resize(old + static_cast<size_t>(std::max<ssize_t>(n, 0)));
    if (n == 0) return text;
    if (n > 0) continue;
    if (err == EINTR) continue;
    if (err == EAGAIN || err == EWOULDBLOCK) { // a non-blocking descriptor: wait for data
      pollfd p{fd, POLLIN, 0};
      (void)::poll(&p, 1, -1);
      continue;
    }
    file_error(name, fmt::format("cannot read: {}", errno_text(err)));
  }
}

void write_file_atomically(const std::string& path,
                           const std::vector<std::span<const std::byte>>& parts) {
  // The rename replaces whatever is at the target: never a device or directory, and through
  // symlinks the file they lead to (as opening the path for writing would, also when dangling).
  Destination dest = destination_of(path);
  const std::string& target = dest.target;
  remove_stale_temporaries(target);
  // The temporary sits next to the target so the rename stays within one file system. It
  // starts owner-only when it replaces a file: its mode is set to the old file's below, and
  // until then it must not be readable by anyone the old file was hidden from.
  static std::atomic<uint64_t> counter{0};
  std::string tmp;
  int raw_fd = -1;
  for (int attempt = 0; raw_fd < 0; ++attempt) {
    tmp = fmt::format("{}.tmp.{}.{}", target, ::getpid(), counter++);
    raw_fd =
        ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, dest.exists ? 0600 : 0666);
    if (raw_fd < 0 && (errno != EEXIST || attempt == 100))
      file_error(path,
                 fmt::format("cannot create the temporary file '{}': {}", tmp, errno_text(errno)));
  }
  Fd fd(raw_fd), lock_holder(-1);
  try {
    // Held until the process ends or the file is closed: tells remove_stale_temporaries of
    // other processes that this writer is alive. Best effort (a file system may lack locks).
    (void)::flock(fd.get(), LOCK_EX | LOCK_NB);
    if (dest.exists) {
      // Owner first: a chown may clear mode bits. Failing to give the file away (not root) is
      // expected and leaves the writer as the owner.
      if (::fchown(fd.get(), dest.st.st_uid, dest.st.st_gid) != 0)
        (void)::fchown(fd.get(), static_cast<uid_t>(-1), dest.st.st_gid);
      // File systems without Unix modes (FAT, some FUSE) refuse; the old file had no mode of
      // its own there either.
      (void)::fchmod(fd.get(), dest.st.st_mode & 0777);
    }
    for (std::span<const std::byte> part : parts)
      write_all(fd.get(), part, path, tmp);
    if (::fsync(fd.get()) != 0)
      file_error(path, fmt::format("cannot flush '{}' to disk: {}", tmp, errno_text(errno)));
    // The lock must outlive the close that reports write errors (NFS, full disks): a duplicate
    // descriptor keeps it until the rename is done.
    lock_holder.reset(::dup(fd.get()));
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

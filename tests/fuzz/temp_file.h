// A scratch file per fuzzing process, for the readers' path entry points (read_npy,
// read_safetensors, load_checkpoint, read_csv): the same bytes are parsed in memory and read
// from the file, and both must agree. Under TMPDIR (default /tmp), removed at exit.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fcntl.h>
#include <string>
#include <unistd.h>

namespace sj::fuzz {

/// The process's scratch file, rewritten with `size` bytes of `data`; its path.
inline const std::string& write_temp_file(const char* suffix, const uint8_t* data, size_t size) {
  static const std::string path = [&] {
    const char* dir = std::getenv("TMPDIR");
    std::string p = std::string(dir && *dir ? dir : "/tmp") + "/stepjit-fuzz-" +
                    std::to_string(::getpid()) + suffix;
    static std::string to_remove = p;
    std::atexit([] { ::unlink(to_remove.c_str()); });
    return p;
  }();
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    std::perror(path.c_str());
    std::abort();
  }
  for (size_t done = 0; done < size;) {
    ssize_t n = ::write(fd, data + done, size - done);
    if (n <= 0) {
      std::perror(path.c_str());
      std::abort();
    }
    done += size_t(n);
  }
  ::close(fd);
  return path;
}

} // namespace sj::fuzz

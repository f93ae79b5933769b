// runtime/file_util.h: atomic writes keep the replaced file's mode (and owner, as root), follow
// symlinks also when they dangle, refuse loops, and remove the temporaries of killed writers and
// nothing else; the bounded readers refuse FIFOs, devices and files or streams past their limit
// without blocking (issue 11 rows 10, 12 and 16).
#include "graph/error.h"
#include "runtime/file_util.h"
#include "tests/support/cli.h"

#include <algorithm>
#include <chrono>
#include <csignal>
#include <fcntl.h>
#include <filesystem>
#include <fmt/format.h>
#include <fstream>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <span>
#include <string>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace sj {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

class FileUtil : public ::testing::Test {
protected:
  void SetUp() override {
    dir_ =
        test::temp_dir(fmt::format("file_util_{}_{}", ::getpid(),
                                   testing::UnitTest::GetInstance()->current_test_info()->name()));
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string path(const std::string& name) const { return dir_ + "/" + name; }
  void write_raw(const std::string& name, const std::string& bytes) const {
    std::ofstream(path(name), std::ios::binary) << bytes;
  }
  std::string read_raw(const std::string& name) const { return test::read_file(path(name)); }
  // The names in the test directory (and in `sub` of it), sorted.
  std::vector<std::string> entries(const std::string& sub = "") const {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(sub.empty() ? dir_ : path(sub)))
      names.push_back(e.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
  }
  unsigned mode_of(const std::string& name) const {
    struct stat st;
    EXPECT_EQ(::stat(path(name).c_str(), &st), 0) << name;
    return st.st_mode & 07777;
  }
  static void write(const std::string& file, const std::string& text) {
    write_file_atomically(file, {std::as_bytes(std::span(text.data(), text.size()))});
  }
  // The message of the sj::Error `f` throws, checking it is located at `file`.
  template <typename F>
  static std::string error_of(F f, const std::string& file) {
    try {
      f();
    } catch (const Error& e) {
      EXPECT_EQ(e.location(), (Location{file, 0, 0})) << e.what();
      return e.message();
    }
    ADD_FAILURE() << "no error";
    return "";
  }

  std::string dir_;
};

// A process id no process has: a child that has exited and been reaped. (Pids are handed out in
// increasing order, so it is not reused within a test.)
pid_t dead_pid() {
  pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  int status = 0;
  ::waitpid(child, &status, 0);
  return child;
}

// Sets the umask for a scope.
struct Umask {
  explicit Umask(mode_t m) : old(::umask(m)) {}
  ~Umask() { ::umask(old); }
  mode_t old;
};

// ---------------------------------------------------------------------------------------------
// Mode and owner (row 10)

TEST_F(FileUtil, AReplacedFilesModeIsKept) {
  Umask umask(022);
  for (unsigned mode : {0600u, 0640u, 0400u, 0755u, 0666u, 0000u}) {
    SCOPED_TRACE(fmt::format("{:o}", mode));
    write_raw("f", "old");
    ASSERT_EQ(::chmod(path("f").c_str(), mode), 0);
    write(path("f"), "new");
    EXPECT_EQ(mode_of("f"), mode);
    EXPECT_EQ(read_raw("f"), "new");
    fs::remove(path("f"));
  }
  // Set-user-ID, set-group-ID and sticky bits are not carried over.
  write_raw("f", "old");
  ASSERT_EQ(::chmod(path("f").c_str(), 07755), 0);
  write(path("f"), "new");
  EXPECT_EQ(mode_of("f"), 0755u);
  EXPECT_EQ(entries(), std::vector<std::string>{"f"});
}

TEST_F(FileUtil, ANewFileGetsTheUmasksMode) {
  {
    Umask umask(022);
    write(path("a"), "x");
  }
  {
    Umask umask(077);
    write(path("b"), "x");
  }
  EXPECT_EQ(mode_of("a"), 0644u);
  EXPECT_EQ(mode_of("b"), 0600u);
}

TEST_F(FileUtil, OwnerAndGroupAreKeptWhenAllowed) {
  if (::geteuid() != 0) GTEST_SKIP() << "only root may give a file away";
  write_raw("f", "old");
  ASSERT_EQ(::chown(path("f").c_str(), 12345, 23456), 0);
  ASSERT_EQ(::chmod(path("f").c_str(), 0640), 0);
  write(path("f"), "new");
  struct stat st;
  ASSERT_EQ(::stat(path("f").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 12345u);
  EXPECT_EQ(st.st_gid, 23456u);
  EXPECT_EQ(st.st_mode & 07777, 0640u);
}

// ---------------------------------------------------------------------------------------------
// Symlinks (row 10)

TEST_F(FileUtil, AModeIsKeptThroughASymlink) {
  write_raw("real", "old");
  ASSERT_EQ(::chmod(path("real").c_str(), 0600), 0);
  fs::create_symlink("real", path("link"));
  write(path("link"), "new");
  EXPECT_TRUE(fs::is_symlink(path("link")));
  EXPECT_EQ(mode_of("real"), 0600u);
  EXPECT_EQ(read_raw("real"), "new");
}

TEST_F(FileUtil, ADanglingSymlinkIsFollowedAndKept) {
  Umask umask(022);
  fs::create_symlink("target", path("link"));
  write(path("link"), "one");
  EXPECT_TRUE(fs::is_symlink(path("link")));
  EXPECT_EQ(fs::read_symlink(path("link")), "target");
  EXPECT_EQ(read_raw("target"), "one");
  EXPECT_EQ(mode_of("target"), 0644u);
  write(path("link"), "two");
  EXPECT_EQ(read_raw("target"), "two");
  EXPECT_EQ(entries(), (std::vector<std::string>{"link", "target"}));
}

TEST_F(FileUtil, RelativeTargetsAreRelativeToTheLinksDirectory) {
  fs::create_directories(path("a"));
  fs::create_directories(path("b"));
  // a/link -> ../b/x (dangling), and an absolute link too.
  fs::create_symlink("../b/x", path("a/link"));
  write(path("a/link"), "relative");
  EXPECT_EQ(read_raw("b/x"), "relative");
  fs::create_symlink(path("b/y"), path("abs"));
  write(path("abs"), "absolute");
  EXPECT_EQ(read_raw("b/y"), "absolute");
  EXPECT_EQ(entries("a"), std::vector<std::string>{"link"});
  EXPECT_EQ(entries("b"), (std::vector<std::string>{"x", "y"}));
}

TEST_F(FileUtil, ChainsAreFollowedToTheirEndAndLoopsAreRefused) {
  // l0 -> l1 -> ... -> l39 -> file: 40 links, the most followed.
  for (int i = 0; i < kMaxSymlinkHops; ++i)
    fs::create_symlink(i + 1 < kMaxSymlinkHops ? fmt::format("l{}", i + 1) : "file",
                       path(fmt::format("l{}", i)));
  write(path("l0"), "end of the chain");
  EXPECT_EQ(read_raw("file"), "end of the chain");
  EXPECT_TRUE(fs::is_symlink(path("l39")));
  // One more is too many.
  fs::create_symlink("l0", path("l-1"));
  EXPECT_THAT(error_of([&] { write(path("l-1"), "x"); }, path("l-1")),
              HasSubstr("more than 40 symbolic links to follow (a loop?)"));
  fs::create_symlink("loop_b", path("loop_a"));
  fs::create_symlink("loop_a", path("loop_b"));
  EXPECT_THAT(error_of([&] { write(path("loop_a"), "x"); }, path("loop_a")),
              HasSubstr("more than 40 symbolic links"));
  EXPECT_EQ(read_raw("file"), "end of the chain");
}

TEST_F(FileUtil, NeverReplacesADirectoryOrDeviceAlsoThroughALink) {
  fs::create_directories(path("d"));
  EXPECT_EQ(error_of([&] { write(path("d"), "x"); }, path("d")),
            "exists and is not a regular file; not replacing it");
  fs::create_symlink("d", path("to_dir"));
  EXPECT_EQ(error_of([&] { write(path("to_dir"), "x"); }, path("to_dir")),
            fmt::format("the symbolic link leads to '{}', which exists and is not a regular file; "
                        "not replacing it",
                        path("d")));
  ASSERT_EQ(::mkfifo(path("fifo").c_str(), 0600), 0);
  EXPECT_EQ(error_of([&] { write(path("fifo"), "x"); }, path("fifo")),
            "exists and is not a regular file; not replacing it");
  EXPECT_THAT(error_of([&] { write("/dev/null", "x"); }, "/dev/null"),
              HasSubstr("not a regular file"));
  EXPECT_EQ(entries(), (std::vector<std::string>{"d", "fifo", "to_dir"}));
}

// ---------------------------------------------------------------------------------------------
// Leftover temporaries (row 16)

TEST_F(FileUtil, TheNextSaveRemovesTemporariesOfDeadWritersOnly) {
  pid_t dead = dead_pid();
  pid_t live = ::getppid(); // alive for as long as this test runs
  ASSERT_NE(::kill(dead, 0), 0);
  std::vector<std::string> stale = {fmt::format("x.bin.tmp.{}.0", dead),
                                    fmt::format("x.bin.tmp.{}.17", dead),
                                    fmt::format("x.bin.tmp.{}.18446744073709551615", dead)};
  std::vector<std::string> kept = {
      fmt::format("x.bin.tmp.{}.0", live),       // a live writer
      fmt::format("x.bin.tmp.{}.5", ::getpid()), // this process (another thread's save)
      fmt::format("x.bin.tmp.{}", dead),         // names that merely look similar
      fmt::format("x.bin.tmp.{}.", dead),        //
      fmt::format("x.bin.tmp.{}.0.bak", dead),   //
      fmt::format("x.bin.tmp.0{}.0", dead),      // leading zero: not a name we write
      fmt::format("x.bin.tmp.-{}.0", dead),      //
      fmt::format("x.bin.tmp.{}.01", dead),      //
      fmt::format("x.bin.tmp.{}.1x", dead),      //
      fmt::format("x.bin.tmp.{}.18446744073709551616", dead), // past 64 bits
      "x.bin.tmp.0.0",                                        // pid 0
      fmt::format("xx.bin.tmp.{}.0", dead),                   // other files' temporaries
      fmt::format("y.bin.tmp.{}.0", dead),                    //
      fmt::format("bin.tmp.{}.0", dead),                      //
      fmt::format("x.bin.TMP.{}.0", dead),                    //
  };
  for (const auto& name : stale)
    write_raw(name, "stale");
  for (const auto& name : kept)
    write_raw(name, "kept");
  // Not regular files: a directory and a symlink with a stale temporary's name.
  std::string dir_name = fmt::format("x.bin.tmp.{}.1", dead);
  std::string link_name = fmt::format("x.bin.tmp.{}.2", dead);
  fs::create_directories(path(dir_name));
  write_raw("elsewhere", "must survive");
  fs::create_symlink("elsewhere", path(link_name));
  // A dead pid's name, but a live process holds it locked: a writer in another PID namespace.
  std::string locked = fmt::format("x.bin.tmp.{}.3", dead);
  write_raw(locked, "locked");
  int lock_fd = ::open(path(locked).c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(lock_fd, 0);
  pid_t holder = ::fork();
  if (holder == 0) { // holds the lock (inherited description) until killed
    ::flock(lock_fd, LOCK_EX);
    ::pause();
    ::_exit(0);
  }
  ::close(lock_fd);
  // Wait until the child holds it.
  for (int i = 0; i < 2000; ++i) {
    int probe = ::open(path(locked).c_str(), O_RDONLY | O_CLOEXEC);
    bool held = ::flock(probe, LOCK_EX | LOCK_NB) != 0;
    ::close(probe);
    if (held) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }

  write_raw("x.bin", "old");
  write(path("x.bin"), "new");
  ::kill(holder, SIGKILL);
  ::waitpid(holder, nullptr, 0);

  std::vector<std::string> expected = kept;
  expected.insert(expected.end(), {"x.bin", dir_name, link_name, locked, "elsewhere"});
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(entries(), expected);
  EXPECT_EQ(read_raw("x.bin"), "new");
  EXPECT_EQ(read_raw("elsewhere"), "must survive");

  // The lock released (its holder is gone), the next save removes that one too.
  write(path("x.bin"), "newer");
  EXPECT_FALSE(fs::exists(path(locked)));
}

TEST_F(FileUtil, TemporariesAreFoundBesideTheRealFileThroughALink) {
  pid_t dead = dead_pid();
  fs::create_directories(path("real"));
  fs::create_symlink("real/ckpt", path("link"));
  write_raw(fmt::format("real/ckpt.tmp.{}.0", dead), "stale");
  write_raw(fmt::format("link.tmp.{}.0", dead), "not the real file's"); // left alone
  write(path("link"), "x");
  EXPECT_EQ(entries("real"), std::vector<std::string>{"ckpt"});
  EXPECT_EQ(entries(),
            (std::vector<std::string>{"link", fmt::format("link.tmp.{}.0", dead), "real"}));
}

// ---------------------------------------------------------------------------------------------
// Bounded readers (row 12)

TEST_F(FileUtil, ReadFileTextRefusesWhatIsNotARegularFileWithoutBlocking) {
  write_raw("ok", "graph g {}\n");
  EXPECT_EQ(read_file_text(path("ok"), 100, "text IR file"), "graph g {}\n");
  ASSERT_EQ(::mkfifo(path("fifo").c_str(), 0600), 0);
  EXPECT_EQ(error_of([&] { read_file_text(path("fifo"), 100, "text IR file"); }, path("fifo")),
            "not a regular file");
  EXPECT_EQ(error_of([&] { read_file_text("/dev/zero", 100, "text IR file"); }, "/dev/zero"),
            "not a regular file");
  EXPECT_EQ(error_of([&] { read_file_text(dir_, 100, "text IR file"); }, dir_),
            "not a regular file");
  EXPECT_EQ(
      error_of([&] { read_file_text(path("missing"), 100, "text IR file"); }, path("missing")),
      "cannot open for reading: No such file or directory");
}

TEST_F(FileUtil, ReadFileTextRefusesAFileOverTheLimitBeforeReadingIt) {
  // A sparse file of 1 TiB: refused from its size alone, nothing allocated.
  write_raw("huge", "");
  ASSERT_EQ(::truncate(path("huge").c_str(), off_t{1} << 40), 0);
  EXPECT_EQ(error_of([&] { read_file_text(path("huge"), uint64_t{256} << 20, "text IR file"); },
                     path("huge")),
            "the file has 1099511627776 bytes, more than the 268435456 bytes (256 MiB) a text IR "
            "file may have");
  write_raw("eleven", "01234567890");
  EXPECT_EQ(error_of([&] { read_file_text(path("eleven"), 10, "text IR file"); }, path("eleven")),
            "the file has 11 bytes, more than the 10 bytes a text IR file may have");
  EXPECT_EQ(read_file_text(path("eleven"), 11, "text IR file"), "01234567890");
}

TEST_F(FileUtil, ReadStreamTextReadsPipesUpToTheLimit) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  // More than a pipe buffer, written by another thread in pieces.
  std::string text(200000, 'a');
  for (size_t i = 0; i < text.size(); i += 7)
    text[i] = char('a' + i % 26);
  std::thread writer([&] {
    for (size_t at = 0; at < text.size(); at += 30000) {
      size_t n = std::min<size_t>(30000, text.size() - at);
      ASSERT_EQ(::write(fds[1], text.data() + at, n), ssize_t(n));
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    ::close(fds[1]);
  });
  EXPECT_EQ(read_stream_text(fds[0], "<stdin>", 200000, "text IR file"), text);
  writer.join();
  ::close(fds[0]);
}

TEST_F(FileUtil, ReadStreamTextWaitsOnANonBlockingPipe) {
  int fds[2];
  ASSERT_EQ(::pipe2(fds, O_NONBLOCK), 0);
  std::thread writer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    ASSERT_EQ(::write(fds[1], "late", 4), 4);
    ::close(fds[1]);
  });
  EXPECT_EQ(read_stream_text(fds[0], "<stdin>", 100, "text IR file"), "late");
  writer.join();
  ::close(fds[0]);
}

TEST_F(FileUtil, ReadStreamTextStopsOneBytePastTheLimit) {
  int zero = ::open("/dev/zero", O_RDONLY | O_CLOEXEC);
  ASSERT_GE(zero, 0);
  EXPECT_EQ(
      error_of([&] { read_stream_text(zero, "<stdin>", 1 << 20, "text IR file"); }, "<stdin>"),
      "the input goes on past the 1048576 bytes (1 MiB) a text IR file may have; stopped "
      "reading there");
  ::close(zero);
  // It reads one byte past the limit, no more: the rest of a pipe is left to its writer.

  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  ASSERT_EQ(::write(fds[1], "0123456789AB", 12), 12);
  ::close(fds[1]);
  EXPECT_EQ(error_of([&] { read_stream_text(fds[0], "<stdin>", 10, "text IR file"); }, "<stdin>"),
            "the input goes on past the 10 bytes a text IR file may have; stopped reading there");
  char rest[4];
  EXPECT_EQ(::read(fds[0], rest, sizeof rest), 1); // 11 bytes were taken, "B" is left
  ::close(fds[0]);
}

TEST_F(FileUtil, ReadStreamTextChecksARegularFilesSizeFirst) {
  write_raw("huge", "");
  ASSERT_EQ(::truncate(path("huge").c_str(), off_t{1} << 40), 0);
  int fd = ::open(path("huge").c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  EXPECT_EQ(error_of([&] { read_stream_text(fd, "<stdin>", 1000, "text IR file"); }, "<stdin>"),
            "the input has 1099511627776 bytes, more than the 1000 bytes a text IR file may have");
  ::close(fd);
  write_raw("small", "abc");
  fd = ::open(path("small").c_str(), O_RDONLY | O_CLOEXEC);
  EXPECT_EQ(read_stream_text(fd, "<stdin>", 3, "text IR file"), "abc");
  ::close(fd);
  fd = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  EXPECT_EQ(error_of([&] { read_stream_text(fd, "<stdin>", 3, "text IR file"); }, "<stdin>"),
            "is a directory");
  ::close(fd);
}

} // namespace
} // namespace sj

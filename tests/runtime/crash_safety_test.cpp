// Crash safety of checkpoint saves (issue 11 row 16): a child process saving a checkpoint is
// killed with SIGKILL at random moments. After every kill the file holds the complete old or the
// complete new checkpoint (loaded, every tensor compared), and the next save of the file
// removes the temporary the killed writer left, so none is left behind.
#include "graph/tensor.h"
#include "runtime/checkpoint.h"
#include "tests/support/cli.h"

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <iostream>
#include <map>
#include <random>
#include <string>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace sj {
namespace {

namespace fs = std::filesystem;
using Tensors = std::map<std::string, Tensor>;

// A checkpoint of about 1.6 MB in several tensors and dtypes, different for each `seed` (same
// names and shapes, as successive checkpoints of one model are).
Tensors checkpoint(uint32_t seed) {
  std::mt19937 rng(seed);
  Tensors t;
  auto fill = [&](const std::string& name, DType dtype, const Shape& shape) {
    Tensor x({dtype, shape});
    auto bytes = x.bytes();
    for (size_t i = 0; i < bytes.size(); ++i)
      bytes[i] = std::byte(rng() & (dtype == DType::boolean ? 1 : 0xff));
    t.emplace(name, std::move(x));
  };
  fill("dense_0/kernel", DType::f32, {128, 1024}); // 512 KiB
  fill("dense_0/kernel.adam_m", DType::f32, {128, 1024});
  fill("dense_1/kernel", DType::f64, {128, 512});
  fill("ids", DType::i64, {1000});
  fill("mask", DType::boolean, {4096});
  fill("adam/step", DType::i64, {});
  return t;
}

bool same(const Tensors& a, const Tensors& b) {
  if (a.size() != b.size()) return false;
  for (const auto& [name, t] : a) {
    auto it = b.find(name);
    if (it == b.end() || it->second.type() != t.type()) return false;
    auto x = t.bytes(), y = it->second.bytes();
    if (x.size() != y.size() || std::memcmp(x.data(), y.data(), x.size()) != 0) return false;
  }
  return true;
}

// The temporaries beside `file` (`<name>.tmp.*`) and their total size.
std::vector<std::string> temporaries(const std::string& dir, const std::string& name,
                                     uintmax_t* bytes = nullptr) {
  std::vector<std::string> found;
  for (const auto& e : fs::directory_iterator(dir)) {
    std::string n = e.path().filename().string();
    if (n.rfind(name + ".tmp.", 0) == 0) {
      found.push_back(n);
      if (bytes) *bytes = std::max(*bytes, fs::file_size(e.path()));
    }
  }
  return found;
}

// Saves `tensors` to `path` in a child process, killed `delay` after it starts the save (it
// tells through a pipe, so fork's cost is not part of the delay). Returns whether the kill came
// first (false: the save completed before it).
bool save_in_child_and_kill(const std::string& path, const Tensors& tensors,
                            std::chrono::microseconds delay) {
  int ready[2];
  EXPECT_EQ(::pipe(ready), 0);
  pid_t child = ::fork();
  if (child == 0) {
    ::close(ready[0]);
    char c = 1;
    if (::write(ready[1], &c, 1) != 1) ::_exit(3);
    try {
      write_safetensors(path, tensors, {{"writer", "child"}});
    } catch (...) {
      ::_exit(1);
    }
    ::_exit(0);
  }
  ::close(ready[1]);
  char c;
  EXPECT_EQ(::read(ready[0], &c, 1), 1);
  ::close(ready[0]);
  std::this_thread::sleep_for(delay);
  ::kill(child, SIGKILL);
  int status = 0;
  EXPECT_EQ(::waitpid(child, &status, 0), child); // reaped: its pid is no live process now
  if (WIFEXITED(status)) {
    EXPECT_EQ(WEXITSTATUS(status), 0) << "the child's save failed";
  }
  return WIFSIGNALED(status);
}

TEST(CrashSafety, SigkillDuringSavesLeavesAWholeCheckpointAndTheNextSaveCleansUp) {
  constexpr int kTrials = 100;
  std::string dir = test::temp_dir(fmt::format("crash_safety_{}", ::getpid()));
  std::string name = "ckpt.safetensors", path = dir + "/" + name;
  const Tensors versions[2] = {checkpoint(1), checkpoint(2)};
  ASSERT_FALSE(same(versions[0], versions[1]));

  // How long one save takes here (median of 5): the kills land within that time after the save
  // starts, so most land while the temporary is being written or flushed, some after.
  std::vector<double> us;
  for (int i = 0; i < 5; ++i) {
    auto start = std::chrono::steady_clock::now();
    write_safetensors(path, versions[i % 2]);
    us.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start)
                     .count());
  }
  std::sort(us.begin(), us.end());
  const auto max_delay = static_cast<int64_t>(us[2]) + 1;

  std::mt19937_64 rng(20240611);
  std::uniform_int_distribution<int64_t> delay_us(0, max_delay);
  int killed = 0, mid_write = 0, before_rename_old = 0, after_rename = 0, completed = 0;
  int leftovers = 0, leftovers_after_next_save = 0;
  uintmax_t largest_leftover = 0;
  int current = 0; // the version the file holds
  write_safetensors(path, versions[current]);
  for (int trial = 0; trial < kTrials; ++trial) {
    SCOPED_TRACE(fmt::format("trial {}", trial));
    int next = 1 - current;
    bool was_killed =
        save_in_child_and_kill(path, versions[next], std::chrono::microseconds(delay_us(rng)));
    killed += was_killed;
    completed += !was_killed;
    // The file is the whole old or the whole new checkpoint: loaded, every tensor compared.
    Tensors now = read_safetensors(path);
    bool is_old = same(now, versions[current]), is_new = same(now, versions[next]);
    ASSERT_TRUE(is_old || is_new) << "neither the old nor the new checkpoint";
    auto left = temporaries(dir, name, &largest_leftover);
    leftovers += static_cast<int>(left.size());
    ASSERT_LE(left.size(), 1u);
    if (!left.empty()) {
      EXPECT_TRUE(is_old); // the rename had not happened
      ++mid_write;
    } else if (was_killed) {
      (is_new ? after_rename : before_rename_old) += 1;
    }
    if (is_new) current = next;

    // The next save (this process) removes the killed writer's temporary.
    current = 1 - current;
    write_safetensors(path, versions[current]);
    ASSERT_TRUE(same(read_safetensors(path), versions[current]));
    leftovers_after_next_save += static_cast<int>(temporaries(dir, name).size());
    EXPECT_EQ(temporaries(dir, name), std::vector<std::string>{});
  }
  std::string figures = fmt::format(
      "{} trials (save of {:.1f} MB takes {:.0f} us here; kills 0-{} us after it starts): {} "
      "killed ({} mid-write leaving a temporary, {} before the temporary existed, {} after the "
      "rename), {} saves completed first; {} leftover temporaries (largest {} bytes), {} left "
      "after the next save",
      kTrials, double(fs::file_size(path)) / 1e6, us[2], max_delay, killed, mid_write,
      before_rename_old, after_rename, completed, leftovers, largest_leftover,
      leftovers_after_next_save);
  std::cout << figures << "\n";
  RecordProperty("figures", figures);
  EXPECT_EQ(leftovers_after_next_save, 0);
  // The test proves something only if kills land mid-write.
  EXPECT_GE(mid_write, kTrials / 10) << figures;
  fs::remove_all(dir);
}

} // namespace
} // namespace sj

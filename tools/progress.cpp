#include "tools/progress.h"

#include <cmath>
#include <cstdio>
#include <fmt/format.h>
#include <unistd.h>

namespace sj::cli {

Progress::Progress(int64_t total, int64_t per_epoch, bool enabled)
    : total_(total), per_epoch_(per_epoch), enabled_(enabled && isatty(STDERR_FILENO)),
      start_(std::chrono::steady_clock::now()), last_draw_(start_) {}

double Progress::seconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

double Progress::steps_per_second(int64_t done) const {
  double s = seconds();
  return s > 0 ? double(done) / s : 0;
}

void Progress::step(int64_t done, double loss) {
  if (!enabled_) return;
  auto now = std::chrono::steady_clock::now();
  if (done < total_ && now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  constexpr int kWidth = 24;
  int filled = static_cast<int>(kWidth * done / std::max<int64_t>(total_, 1));
  double rate = steps_per_second(done);
  double left = rate > 0 ? double(total_ - done) / rate : 0;
  std::string line = fmt::format(
      "epoch {}/{} [{}{}] {}/{} steps  {:.0f} steps/s  ETA {}  loss {:.5g}",
      std::min((done - 1) / per_epoch_ + 1, (total_ - 1) / per_epoch_ + 1),
      (total_ - 1) / per_epoch_ + 1, std::string(filled, '#'), std::string(kWidth - filled, '.'),
      done, total_, rate, format_duration(left), loss);
  std::fprintf(stderr, "\r%s\033[K", line.c_str());
  std::fflush(stderr);
  drawn_ = true;
}

void Progress::clear() {
  if (!drawn_) return;
  std::fprintf(stderr, "\r\033[K");
  std::fflush(stderr);
  drawn_ = false;
}

std::string format_duration(double seconds) {
  auto s = static_cast<int64_t>(std::llround(std::max(seconds, 0.0)));
  if (s >= 3600) return fmt::format("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60);
  return fmt::format("{}:{:02}", s / 60, s % 60);
}

} // namespace sj::cli

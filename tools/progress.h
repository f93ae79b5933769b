// Training progress for `stepjit train`: on a terminal, one line redrawn in place with a bar,
// steps/s and the time left; otherwise nothing (the per-epoch lines say enough in a log).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace sj::cli {

class Progress {
public:
  /// `total` steps of `per_epoch` each; draws only if standard error is a terminal and `enabled`.
  Progress(int64_t total, int64_t per_epoch, bool enabled);
  /// After step `done` (1-based) with its loss; redraws at most ten times a second.
  void step(int64_t done, double loss);
  /// Erases the line, so that a normal line can be printed (the next step() redraws it).
  void clear();
  double seconds() const;
  /// "1234 steps/s" style rate over the whole run so far.
  double steps_per_second(int64_t done) const;

private:
  int64_t total_, per_epoch_;
  bool enabled_, drawn_ = false;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

/// 75 -> "1:15", 3725 -> "1:02:05".
std::string format_duration(double seconds);

} // namespace sj::cli

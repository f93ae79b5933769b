// The one error type of stepjit, and the location every diagnostic points at.
//
// A user's mistake (an ill-typed graph, malformed IR text, a bad .npy file, a feed of the
// wrong shape) throws sj::Error, whose what() reads like a compiler diagnostic:
//
//   model.cpp:42:13: error: matmul(f32[32,100], f32[10,100]): inner dimensions differ ...
//
// A broken invariant inside stepjit is a bug, not a user error: internal_error() throws
// std::logic_error saying so. Neither path aborts the process.
#pragma once

#include <cstdint>
#include <source_location>
#include <stdexcept>
#include <string>

namespace sj {

/// A position in the user's C++ source (captured with std::source_location) or in IR text.
struct Location {
  std::string file;
  uint32_t line = 0;   // 1-based; 0 means unknown
  uint32_t column = 0; // 1-based; 0 means unknown

  /// The caller's position: default argument of every builder function.
  static Location here(std::source_location loc = std::source_location::current()) {
    return {loc.file_name(), loc.line(), loc.column()};
  }
  bool known() const { return !file.empty() || line != 0; }
  /// `file:line:column`, leaving out what is unknown.
  std::string str() const;
  bool operator==(const Location&) const = default;
};

/// A user error: what went wrong, where, and (in the message) what was expected.
class Error : public std::exception {
public:
  Error(Location loc, std::string message);
  const Location& location() const { return loc_; }
  /// The message without the location prefix.
  const std::string& message() const { return message_; }
  /// `location: error: message`.
  const char* what() const noexcept override { return what_.c_str(); }

private:
  Location loc_;
  std::string message_;
  std::string what_;
};

/// A bug in stepjit: throws std::logic_error naming the broken invariant and where it is.
[[noreturn]] void internal_error(const std::string& what,
                                 std::source_location loc = std::source_location::current());

} // namespace sj

/// Checks an internal invariant (never user input): a failure is a bug in stepjit.
#define SJ_ASSERT(cond)                                                                            \
  do {                                                                                             \
    if (!(cond)) ::sj::internal_error("assertion failed: " #cond);                                 \
  } while (0)

// What the libFuzzer targets of tests/fuzz share: reporting a broken promise as a crash, and
// running a reader the way its header promises (it returns, or it throws sj::Error).
//
// A target reports a bug by aborting: libFuzzer saves the input as crash-<sha1> and stops.
// Anything the library throws that is not an sj::Error (std::logic_error from SJ_ASSERT,
// std::bad_alloc, ...) is a bug too: the readers promise sj::Error for every malformed input.
#pragma once

#include "graph/error.h"
#include "graph/tensor.h"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <typeinfo>

namespace sj::fuzz {

/// Prints `what` (the broken promise) and aborts: the fuzzer reports a crash.
[[noreturn]] inline void fail(const std::string& what) {
  std::fprintf(stderr, "\n==== stepjit fuzz target: %s\n", what.c_str());
  std::fflush(stderr);
  std::abort();
}

/// The type of the exception being handled, for reports.
inline std::string current_exception_text() {
  try {
    throw;
  } catch (const std::exception& e) {
    return std::string(typeid(e).name()) + ": " + e.what();
  } catch (...) {
    return "an exception of unknown type";
  }
}

/// Runs f(); returns its sj::Error's text if it threw one, nothing if it returned. Any other
/// exception is a crash, reported with `what` (which call it was).
template <typename F>
std::optional<std::string> sj_error_of(const char* what, F&& f) {
  try {
    f();
    return std::nullopt;
  } catch (const Error& e) {
    return std::string(e.what());
  } catch (...) {
    fail(std::string(what) + " threw something other than sj::Error: " + current_exception_text());
  }
}

inline std::span<const std::byte> as_bytes(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const std::byte*>(data), size};
}

} // namespace sj::fuzz

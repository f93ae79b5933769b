// Catching the sj::Error a piece of test code must throw.
#pragma once

#include "graph/error.h"

#include <functional>
#include <gtest/gtest.h>
#include <string>

namespace sj::test {

/// The full text (what(): location and message) of the sj::Error `f` throws; a test failure
/// and "" if it throws none.
inline std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "no sj::Error";
  return {};
}

/// The message (without the location) of the sj::Error `f` throws; "" and a failure if none.
inline std::string error_message(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.message();
  }
  ADD_FAILURE() << "no sj::Error";
  return {};
}

} // namespace sj::test

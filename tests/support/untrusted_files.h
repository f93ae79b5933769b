// What the tests of untrusted file formats (.npy, safetensors) share: bytes from strings, sample
// tensors full of special values, and the checks that a malformed file is an sj::Error located
// at the file, never anything else.
#pragma once

#include "graph/error.h"
#include "graph/tensor.h"

#include <cstddef>
#include <gtest/gtest.h>
#include <limits>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace sj::test {

inline std::vector<std::byte> to_bytes(std::string_view s) {
  auto p = reinterpret_cast<const std::byte*>(s.data());
  return {p, p + s.size()};
}

inline std::string to_string(std::span<const std::byte> b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

/// The message of the sj::Error that `parse(bytes, name)` throws for `file`, after checking it
/// is located at the file (`name: error: ...`); a test failure and "" if it throws nothing.
template <typename Parse>
std::string file_error_of(Parse parse, const std::string& file, const std::string& name) {
  try {
    parse(to_bytes(file), name);
  } catch (const Error& e) {
    EXPECT_EQ(e.location(), (Location{name, 0, 0}));
    EXPECT_EQ(std::string(e.what()).rfind(name + ": error: ", 0), 0u) << e.what();
    return e.message();
  }
  ADD_FAILURE() << "no error for " << testing::PrintToString(file);
  return "";
}

/// `parse(file, name)` gives a result or an sj::Error: nothing else, and never a crash.
template <typename Parse>
void parses_or_errors(Parse parse, const std::vector<std::byte>& file, const std::string& name) {
  try {
    parse(file, name);
  } catch (const Error&) {
  } catch (const std::exception& e) {
    ADD_FAILURE() << "not an sj::Error: " << e.what() << " for "
                  << testing::PrintToString(to_string(file));
  }
}

/// A tensor of random values with special ones every fourth element (-0, inf, NaN, the
/// smallest denormal and the largest float; an integer type's extremes and -1).
inline Tensor sample_with_specials(DType dtype, const Shape& shape, uint32_t seed) {
  Tensor t({dtype, shape});
  std::mt19937 rng(seed);
  visit_dtype(dtype, [&]<typename T>() {
    T* p = t.data<T>();
    for (int64_t i = 0; i < t.num_elements(); ++i) {
      if constexpr (std::is_same_v<T, bool>) {
        p[i] = rng() & 1;
      } else if constexpr (std::is_floating_point_v<T>) {
        const T special[] = {T(-0.0), std::numeric_limits<T>::infinity(),
                             std::numeric_limits<T>::quiet_NaN(),
                             std::numeric_limits<T>::denorm_min(), std::numeric_limits<T>::max()};
        p[i] =
            i % 4 == 3 ? special[(i / 4) % 5] : std::uniform_real_distribution<T>(-1e6, 1e6)(rng);
      } else {
        const T special[] = {std::numeric_limits<T>::min(), std::numeric_limits<T>::max(), -1};
        p[i] = i % 4 == 3 ? special[(i / 4) % 3] : static_cast<T>(rng());
      }
    }
  });
  return t;
}

} // namespace sj::test

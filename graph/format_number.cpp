#include "graph/format_number.h"

#include <charconv>
#include <cmath>
#include <cstring>

namespace sj {

namespace {

template <typename F>
std::string format_real(F v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v < 0 ? "-inf" : "inf";
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  (void)ec; // 64 bytes always suffice for the shortest form
  std::string s(buf, end);
  if (s.find_first_of(".eE") == std::string::npos) s += ".0";
  return s;
}

template <typename T>
std::string format_element(T v) {
  if constexpr (std::is_same_v<T, bool>)
    return v ? "true" : "false";
  else if constexpr (std::is_floating_point_v<T>)
    return format_real(v);
  else
    return std::to_string(v);
}

} // namespace

std::string format_number(double v) { return format_real(v); }
std::string format_number(float v) { return format_real(v); }

std::string format_tensor_values(const Tensor& t) {
  return visit_dtype(t.dtype(), [&]<typename T>() {
    auto values = t.values<T>();
    // Elements that print alike count as equal: every NaN prints as `nan`, whatever its sign
    // and payload, and the text must read back to a tensor that prints the same.
    auto same = [&](const T& x) {
      if constexpr (std::is_floating_point_v<T>)
        if (std::isnan(x) && std::isnan(values[0])) return true;
      return std::memcmp(&x, &values[0], sizeof(T)) == 0;
    };
    bool splat = !values.empty();
    for (const T& x : values)
      if (!same(x)) splat = false;
    if (splat) return format_element(values[0]);
    std::string s = "[";
    for (size_t i = 0; i < values.size(); ++i) {
      if (i) s += ", ";
      s += format_element(values[i]);
    }
    return s + "]";
  });
}

} // namespace sj

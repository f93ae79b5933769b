// "name type" of each variable, for asserting a layer's variables (names, layouts) in one line.
#pragma once

#include "graph/builder.h"

#include <string>
#include <vector>

namespace sj::test {

inline std::vector<std::string> names_and_types(const std::vector<Value>& vars) {
  std::vector<std::string> names;
  for (const Value& v : vars)
    names.push_back(v.node().name + " " + v.type().str());
  return names;
}

} // namespace sj::test

#include "runtime/outputs.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <vector>

namespace sj {

namespace {

[[noreturn]] void no_such_output(const std::map<std::string, Tensor>& outputs,
                                 const std::string& name, std::source_location loc) {
  std::vector<std::string> names;
  for (const auto& [n, t] : outputs)
    names.push_back(fmt::format("{} ({})", n, t.type().str()));
  throw Error(
      Location::here(loc),
      fmt::format("the step has no output named '{}' (its outputs: {})", name,
                  names.empty() ? std::string("none") : fmt::format("{}", fmt::join(names, ", "))));
}

} // namespace

const Tensor& Outputs::at(const std::string& name, std::source_location loc) const {
  auto it = find(name);
  if (it == end()) no_such_output(*this, name, loc);
  return it->second;
}

Tensor& Outputs::at(const std::string& name, std::source_location loc) {
  auto it = find(name);
  if (it == end()) no_such_output(*this, name, loc);
  return it->second;
}

void Outputs::check_scalar(const std::string& name, const Tensor& t, std::source_location loc) {
  if (t.num_elements() != 1)
    throw Error(Location::here(loc),
                fmt::format("scalar(\"{}\"): output '{}' is {}, not a scalar (one element)", name,
                            name, t.type().str()));
}

} // namespace sj

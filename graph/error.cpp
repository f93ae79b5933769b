#include "graph/error.h"

#include <fmt/format.h>

namespace sj {

std::string Location::str() const {
  std::string s = file.empty() ? std::string("<unknown>") : file;
  if (line != 0) s += fmt::format(":{}", line);
  if (line != 0 && column != 0) s += fmt::format(":{}", column);
  return s;
}

Error::Error(Location loc, std::string message)
    : loc_(std::move(loc)), message_(std::move(message)) {
  what_ = loc_.known() ? fmt::format("{}: error: {}", loc_.str(), message_)
                       : fmt::format("error: {}", message_);
}

void internal_error(const std::string& what, std::source_location loc) {
  throw std::logic_error(fmt::format("internal error (a bug in stepjit, please report it): {} "
                                     "[{}:{}]",
                                     what, loc.file_name(), loc.line()));
}

} // namespace sj

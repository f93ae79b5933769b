#include "runtime/feeds.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace sj {

std::string quoted(const std::vector<std::string>& names) {
  std::vector<std::string> q;
  for (const std::string& n : names)
    q.push_back("'" + n + "'");
  return q.empty() ? std::string("none") : fmt::format("{}", fmt::join(q, ", "));
}

template <typename Feed>
void check_feeds(const Graph& graph_, const std::map<std::string, Feed>& feeds) {
  std::vector<std::string> inputs, missing, unknown;
  for (ValueId v : graph_.nodes_of(Op::input)) {
    const Node& node = graph_.node(v);
    inputs.push_back(node.name);
    if (!feeds.count(node.name))
      missing.push_back(fmt::format("'{}' ({})", node.name, node.type.str()));
  }
  for (const auto& [name, value] : feeds) {
    auto v = graph_.find(name);
    if (!v)
      unknown.push_back(fmt::format("'{}'", name));
    else if (graph_.node(*v).op != Op::input)
      unknown.push_back(
          fmt::format("'{}' ({}, not an input)", name, op_with_article(graph_.node(*v)) + " node"));
  }
  if (!missing.empty() || !unknown.empty()) {
    std::vector<std::string> parts;
    if (!missing.empty())
      parts.push_back(fmt::format("missing feed{} for {}", missing.size() == 1 ? "" : "s",
                                  fmt::join(missing, ", ")));
    if (!unknown.empty())
      parts.push_back(fmt::format("unknown feed{} {}", unknown.size() == 1 ? "" : "s",
                                  fmt::join(unknown, ", ")));
    throw Error({}, fmt::format("run: {}; graph '{}' has the inputs {}", fmt::join(parts, "; "),
                                graph_.name(), quoted(inputs)));
  }
  for (ValueId v : graph_.nodes_of(Op::input)) {
    const Node& node = graph_.node(v);
    const TensorType& given = feeds.at(node.name).type();
    if (given != node.type)
      throw Error(node.loc, fmt::format("run: input '{}' is declared {}, but its feed is {}",
                                        node.name, node.type.str(), given.str()));
  }
}

template void check_feeds(const Graph&, const std::map<std::string, Tensor>&);
template void check_feeds(const Graph&, const std::map<std::string, TensorView>&);

} // namespace sj

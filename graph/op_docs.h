// The op table as a document: what `stepjit ops` prints and docs/ops.md holds.
#pragma once

#include <string>

namespace sj {

/// One Markdown table row per op: name, operands, attributes with defaults, summary.
std::string ops_markdown();

} // namespace sj

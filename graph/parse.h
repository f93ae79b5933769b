// The IR's text form (docs/ir.md), parsing side: the inverse of print.h.
#pragma once

#include "graph/graph.h"

#include <string>
#include <string_view>

namespace sj {

/// The most bytes a splat constant (`constant {value = 0.0} : f32[N]`) may expand to: a short
/// text must not be able to demand an arbitrarily large allocation. A constant written element
/// by element is bounded by the length of the text instead.
inline constexpr int64_t kMaxSplatConstantBytes = int64_t{1} << 28;

/// What the parser may allocate for constants, whatever the text says.
struct ParseOptions {
  /// The most bytes one splat constant may expand to.
  int64_t max_splat_bytes = kMaxSplatConstantBytes;
  /// The most bytes of constant data the whole text may materialize, splats and listed
  /// elements together: a few lines of splats cannot add up to gigabytes.
  int64_t max_constant_bytes = int64_t{1} << 30;
};

/// Parses the text form of one graph. Nodes are built with Graph::add, so every shape rule and
/// attribute check applies; each node's Location is the `file:line:column` of its first token.
/// The text is untrusted: any malformed, truncated or ill-typed input throws sj::Error at the
/// offending token, naming the cause; so does a text whose constants exceed `options`.
Graph parse(std::string_view text, const std::string& filename = "<input>",
            const ParseOptions& options = {});

} // namespace sj

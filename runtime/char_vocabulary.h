// A character-level vocabulary: the distinct bytes of a text, sorted, each an id (nanoGPT's
// shakespeare_char scheme). encode/decode map between text and i32 token arrays.
//
//   auto vocab = sj::CharVocabulary::of(text);       // vocab.size() ids
//   sj::Tensor tokens = vocab.encode(text);          // i32 [text.size()]
//   std::string back = vocab.decode(ids);
#pragma once

#include "graph/error.h"
#include "graph/tensor.h"

#include <array>
#include <string>
#include <string_view>
#include <vector>

namespace sj {

class CharVocabulary {
public:
  /// The distinct bytes of `text` in byte order. An empty text is an error.
  static CharVocabulary of(std::string_view text, Location loc = Location::here());
  /// The vocabulary with exactly these characters (distinct), in this order.
  static CharVocabulary from_chars(std::string_view chars, Location loc = Location::here());

  int64_t size() const { return static_cast<int64_t>(chars_.size()); }
  /// The characters in id order.
  const std::string& chars() const { return chars_; }
  /// i32 [text.size()]; a byte outside the vocabulary is an error naming it and its position.
  Tensor encode(std::string_view text, Location loc = Location::here()) const;
  /// The text of ids (any integer dtype and shape, read in order); an id outside [0, size()) is
  /// an error.
  std::string decode(const Tensor& ids, Location loc = Location::here()) const;
  std::string decode(const std::vector<int32_t>& ids, Location loc = Location::here()) const;

private:
  std::string chars_;
  std::array<int32_t, 256> id_of_{}; // -1: not in the vocabulary
};

} // namespace sj

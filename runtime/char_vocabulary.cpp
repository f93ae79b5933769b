#include "runtime/char_vocabulary.h"

#include <fmt/format.h>

namespace sj {

namespace {

// "'a'" or "byte 0x0a" for messages.
std::string describe(unsigned char c) {
  return c >= 0x20 && c < 0x7f ? fmt::format("'{}'", char(c)) : fmt::format("byte 0x{:02x}", c);
}

} // namespace

CharVocabulary CharVocabulary::of(std::string_view text, Location loc) {
  if (text.empty()) throw Error(loc, "CharVocabulary: the text is empty");
  std::array<bool, 256> seen{};
  for (char c : text)
    seen[static_cast<unsigned char>(c)] = true;
  std::string chars;
  for (int c = 0; c < 256; ++c)
    if (seen[c]) chars.push_back(static_cast<char>(c));
  return from_chars(chars, loc);
}

CharVocabulary CharVocabulary::from_chars(std::string_view chars, Location loc) {
  CharVocabulary v;
  v.id_of_.fill(-1);
  for (char c : chars) {
    unsigned char u = static_cast<unsigned char>(c);
    if (v.id_of_[u] >= 0)
      throw Error(loc, fmt::format("CharVocabulary: {} is given twice", describe(u)));
    v.id_of_[u] = static_cast<int32_t>(v.chars_.size());
    v.chars_.push_back(c);
  }
  if (v.chars_.empty()) throw Error(loc, "CharVocabulary: no characters");
  return v;
}

Tensor CharVocabulary::encode(std::string_view text, Location loc) const {
  Tensor ids({DType::i32, {static_cast<int64_t>(text.size())}});
  for (size_t i = 0; i < text.size(); ++i) {
    int32_t id = id_of_[static_cast<unsigned char>(text[i])];
    if (id < 0)
      throw Error(loc, fmt::format("CharVocabulary::encode: {} at position {} is not in the "
                                   "vocabulary of {} characters",
                                   describe(static_cast<unsigned char>(text[i])), i, size()));
    ids.data<int32_t>()[i] = id;
  }
  return ids;
}

std::string CharVocabulary::decode(const std::vector<int32_t>& ids, Location loc) const {
  std::string text;
  text.reserve(ids.size());
  for (size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] < 0 || ids[i] >= size())
      throw Error(loc, fmt::format("CharVocabulary::decode: id {} at position {} is not in [0, {})",
                                   ids[i], i, size()));
    text.push_back(chars_[ids[i]]);
  }
  return text;
}

std::string CharVocabulary::decode(const Tensor& ids, Location loc) const {
  if (is_float(ids.dtype()) || ids.dtype() == DType::boolean)
    throw Error(
        loc, fmt::format("CharVocabulary::decode: ids must be integers, got {}", ids.type().str()));
  std::vector<int32_t> list(ids.num_elements());
  for (int64_t i = 0; i < ids.num_elements(); ++i) {
    double id = ids.as_double(i);
    list[i] = id >= 0 && id < double(size()) ? static_cast<int32_t>(id) : -1;
    if (list[i] < 0)
      throw Error(loc, fmt::format("CharVocabulary::decode: id {} at position {} is not in [0, {})",
                                   id, i, size()));
  }
  return decode(list, loc);
}

} // namespace sj

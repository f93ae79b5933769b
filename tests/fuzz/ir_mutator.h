// A structure-aware mutator for fuzz_ir (libFuzzer's LLVMFuzzerCustomMutator): byte-level
// mutations rarely give a graph that still parses, because every node line states its type and
// a changed dimension must change in every line after it. So half of the mutations are made on
// lines and tokens instead, each keeping most graphs well-formed while reaching what byte flips
// seldom do:
//   - drop a line: an output goes (its value becomes dead code) or a node does;
//   - add `output oN = %v` for a value named in the text (dead code becomes live);
//   - swap two adjacent lines (evaluation order; often a use before its definition);
//   - replace every occurrence of one number by another (0, 1, 2, 3, 4, 5, 7, 8, 16, -1): a
//     dimension changed consistently in every type and attribute (empty tensors, broadcasts),
//     or an index or count;
//   - replace every occurrence of one dtype by another.
// The rest are libFuzzer's own mutations (with the dictionary).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <random>
#include <regex>
#include <string>
#include <vector>

extern "C" size_t LLVMFuzzerMutate(uint8_t* data, size_t size, size_t max_size);

namespace sj::fuzz {

inline std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

inline std::string join_lines(const std::vector<std::string>& lines) {
  std::string r;
  for (const std::string& l : lines)
    r += l + "\n";
  return r;
}

/// Replaces every whole-token occurrence of `from` (a number or a word) by `to`.
inline std::string replace_token(const std::string& text, const std::string& from,
                                 const std::string& to) {
  auto is_word = [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.';
  };
  std::string r;
  size_t i = 0;
  while (i < text.size()) {
    if (text.compare(i, from.size(), from) == 0 && (i == 0 || !is_word(text[i - 1])) &&
        (i + from.size() == text.size() || !is_word(text[i + from.size()])) &&
        !(i > 0 && (text[i - 1] == '%' || text[i - 1] == '-'))) {
      r += to;
      i += from.size();
    } else {
      r += text[i++];
    }
  }
  return r;
}

inline std::string mutate_structure(const std::string& text, std::mt19937_64& rng) {
  auto pick = [&](size_t n) { return size_t(rng() % n); };
  std::vector<std::string> lines = split_lines(text);
  switch (pick(5)) {
  case 0: // drop a line (not the first or the last: the graph's braces)
    if (lines.size() > 2) lines.erase(lines.begin() + 1 + long(pick(lines.size() - 2)));
    return join_lines(lines);
  case 1: { // make a value an output
    std::vector<std::string> labels;
    static const std::regex def(R"(^\s*(%[A-Za-z0-9_./]+)\s*=)");
    for (const std::string& l : lines) {
      std::smatch m;
      if (std::regex_search(l, m, def)) labels.push_back(m[1]);
    }
    if (labels.empty() || lines.size() < 2) return text;
    lines.insert(lines.end() - 1,
                 "  output o" + std::to_string(rng() % 1000) + " = " + labels[pick(labels.size())]);
    return join_lines(lines);
  }
  case 2: // swap two adjacent lines
    if (lines.size() > 3) {
      size_t i = 1 + pick(lines.size() - 3);
      std::swap(lines[i], lines[i + 1]);
    }
    return join_lines(lines);
  case 3: { // one number replaced everywhere
    static const std::regex number(R"((^|[^%A-Za-z0-9_.\-])([0-9]+)(?![0-9.eE]))");
    std::vector<std::string> numbers;
    for (auto it = std::sregex_iterator(text.begin(), text.end(), number);
         it != std::sregex_iterator(); ++it)
      numbers.push_back((*it)[2]);
    if (numbers.empty()) return text;
    static const char* const values[] = {"0", "1", "2", "3", "4", "5", "7", "8", "16", "-1"};
    return replace_token(text, numbers[pick(numbers.size())], values[pick(10)]);
  }
  default: { // one dtype replaced everywhere
    static const char* const dtypes[] = {"f32", "f64", "i32", "i64", "bool"};
    return replace_token(text, dtypes[pick(5)], dtypes[pick(5)]);
  }
  }
}

} // namespace sj::fuzz

extern "C" size_t LLVMFuzzerCustomMutator(uint8_t* data, size_t size, size_t max_size,
                                          unsigned int seed) {
  std::mt19937_64 rng(seed);
  if (rng() % 2 == 0) return LLVMFuzzerMutate(data, size, max_size);
  std::string text(reinterpret_cast<const char*>(data), size);
  std::string out = sj::fuzz::mutate_structure(text, rng);
  if (out.size() > max_size || out == text) return LLVMFuzzerMutate(data, size, max_size);
  std::memcpy(data, out.data(), out.size());
  return out.size();
}

#include "tests/support/filecheck.h"

#include <fmt/format.h>
#include <map>
#include <optional>
#include <regex>
#include <vector>

namespace sj::test {

namespace {

enum class Kind { check, next, not_ };

struct Directive {
  Kind kind;
  std::string pattern;
  size_t line; // in the checks text, 1-based
};

std::vector<std::string> split_lines(std::string_view text) {
  std::vector<std::string> lines;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    lines.emplace_back(text.substr(start, end - start));
    start = end + 1;
  }
  if (!lines.empty() && lines.back().empty()) lines.pop_back();
  return lines;
}

std::string trim(std::string_view s) {
  size_t b = s.find_first_not_of(" \t"), e = s.find_last_not_of(" \t");
  return b == std::string_view::npos ? "" : std::string(s.substr(b, e - b + 1));
}

std::vector<Directive> parse_directives(std::string_view checks) {
  std::vector<Directive> r;
  auto lines = split_lines(checks);
  for (size_t i = 0; i < lines.size(); ++i) {
    for (auto [tag, kind] :
         {std::pair{"CHECK-NEXT:", Kind::next}, std::pair{"CHECK-NOT:", Kind::not_},
          std::pair{"CHECK:", Kind::check}}) {
      size_t at = lines[i].find(tag);
      if (at == std::string::npos) continue;
      r.push_back({kind, trim(std::string_view(lines[i]).substr(at + std::string_view(tag).size())),
                   i + 1});
      break;
    }
  }
  return r;
}

std::string escape_regex(std::string_view s) {
  static const std::string special = R"(\^$.|?*+()[]{}/)";
  std::string r;
  for (char c : s) {
    if (special.find(c) != std::string::npos) r += '\\';
    r += c;
  }
  return r;
}

// Builds the regex of a pattern with the current variables; records new capture names in order.
std::string to_regex(const std::string& pattern, const std::map<std::string, std::string>& vars,
                     std::vector<std::string>& captures, std::string& error) {
  std::string re;
  size_t i = 0;
  while (i < pattern.size()) {
    if (pattern.compare(i, 2, "{{") == 0) {
      size_t end = pattern.find("}}", i + 2);
      if (end == std::string::npos) return error = "unterminated {{", "";
      re += "(?:" + pattern.substr(i + 2, end - i - 2) + ")";
      i = end + 2;
    } else if (pattern.compare(i, 2, "[[") == 0) {
      size_t end = pattern.find("]]", i + 2);
      if (end == std::string::npos) return error = "unterminated [[", "";
      std::string body = pattern.substr(i + 2, end - i - 2);
      size_t colon = body.find(':');
      if (colon != std::string::npos) {
        captures.push_back(body.substr(0, colon));
        re += "(" + body.substr(colon + 1) + ")";
      } else {
        auto it = vars.find(body);
        if (it == vars.end()) return error = "use of undefined variable [[" + body + "]]", "";
        re += escape_regex(it->second);
      }
      i = end + 2;
    } else {
      size_t next = std::min(pattern.find("{{", i), pattern.find("[[", i));
      if (next == std::string::npos) next = pattern.size();
      re += escape_regex(std::string_view(pattern).substr(i, next - i));
      i = next;
    }
  }
  return re;
}

std::string context(const std::vector<std::string>& lines, size_t at) {
  std::string s;
  for (size_t i = at; i < lines.size() && i < at + 5; ++i)
    s += fmt::format("  output line {}: {}\n", i + 1, lines[i]);
  return s.empty() ? "  (end of output)\n" : s;
}

} // namespace

std::string filecheck(std::string_view output, std::string_view checks) {
  auto lines = split_lines(output);
  auto directives = parse_directives(checks);
  if (directives.empty()) return "no CHECK directives found";
  std::map<std::string, std::string> vars;
  size_t pos = 0;                     // first output line not yet consumed
  std::vector<const Directive*> nots; // pending CHECK-NOTs, checked up to the next match

  // Tries to match `d` on output line `i`; binds captures on success.
  auto match_line = [&](const Directive& d, size_t i, std::string& error) -> bool {
    std::vector<std::string> captures;
    std::string re = to_regex(d.pattern, vars, captures, error);
    if (!error.empty()) return false;
    std::smatch m;
    std::regex rx;
    try {
      rx = std::regex(re);
    } catch (const std::regex_error& e) {
      error = fmt::format("bad regex in pattern: {}", e.what());
      return false;
    }
    if (!std::regex_search(lines[i], m, rx)) return false;
    for (size_t c = 0; c < captures.size(); ++c)
      vars[captures[c]] = m[c + 1].str();
    return true;
  };
  auto check_nots = [&](size_t from, size_t to) -> std::string {
    for (const Directive* n : nots)
      for (size_t i = from; i < to; ++i) {
        std::string error;
        if (match_line(*n, i, error))
          return fmt::format("checks line {}: CHECK-NOT: '{}' found\n{}", n->line, n->pattern,
                             context(lines, i));
        if (!error.empty()) return fmt::format("checks line {}: {}", n->line, error);
      }
    nots.clear();
    return "";
  };

  for (const Directive& d : directives) {
    if (d.kind == Kind::not_) {
      nots.push_back(&d);
      continue;
    }
    std::string error;
    size_t found = lines.size();
    if (d.kind == Kind::next) {
      if (pos < lines.size() && match_line(d, pos, error)) found = pos;
    } else {
      for (size_t i = pos; i < lines.size() && found == lines.size() && error.empty(); ++i)
        if (match_line(d, i, error)) found = i;
    }
    if (!error.empty()) return fmt::format("checks line {}: {}", d.line, error);
    if (found == lines.size())
      return fmt::format("checks line {}: {}: '{}' not found\n{}", d.line,
                         d.kind == Kind::next ? "CHECK-NEXT" : "CHECK", d.pattern,
                         context(lines, pos));
    if (std::string e = check_nots(pos, found); !e.empty()) return e;
    pos = found + 1;
  }
  return check_nots(pos, lines.size());
}

} // namespace sj::test

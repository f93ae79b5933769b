// A hand-written lexer and LL(1) recursive-descent parser for the grammar of docs/ir.md. The
// grammar has no nesting, so the recursion depth is fixed whatever the input.
#include "graph/parse.h"

#include <algorithm>
#include <charconv>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <limits>
#include <optional>
#include <unordered_map>

namespace sj {

namespace {

bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_name_char(char c) { return is_alpha(c) || is_digit(c) || c == '.' || c == '/'; }

enum class Tok : uint8_t { ident, value, number, punct, newline, end };

struct Token {
  Tok kind = Tok::end;
  std::string_view text; // a value's label without '%'; one character for punctuation
  uint32_t line = 0, column = 0;
  bool integer = false; // a number without '.', exponent or inf
};

bool is_punct(const Token& t, char c) { return t.kind == Tok::punct && t.text[0] == c; }

// Messages quote untrusted text: keep the quote short and printable.
std::string quote(std::string_view s) {
  constexpr size_t kMax = 40;
  std::string r = "'";
  for (size_t i = 0; i < s.size() && i < kMax; ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x7f)
      r += static_cast<char>(c);
    else
      r += fmt::format("\\x{:02x}", c);
  }
  if (s.size() > kMax) r += "...";
  return r + "'";
}

std::string describe(const Token& t) {
  switch (t.kind) {
  case Tok::end:
    return "end of input";
  case Tok::newline:
    return "end of line";
  case Tok::value:
    return quote("%" + std::string(t.text.substr(0, 64)));
  case Tok::number:
    return "number " + quote(t.text);
  case Tok::ident:
  case Tok::punct:
    return quote(t.text);
  }
  return "?";
}

class Lexer {
public:
  Lexer(std::string_view text, const std::string& file) : text_(text), file_(file) {}

  const Token& peek() {
    if (!peeked_) peeked_ = lex();
    return *peeked_;
  }
  Token next() {
    Token t = peek();
    peeked_.reset();
    return t;
  }
  Location loc(const Token& t) const { return {file_, t.line, t.column}; }

  /// Where the next token starts (nothing may be peeked): a lexer made with rewind() reads the
  /// same tokens again. Constants are read before the type their elements take, so the parser
  /// reads their tokens twice instead of storing them (a token is 32 bytes; an element 1 to 8).
  struct Mark {
    size_t pos;
    uint32_t line, column;
  };
  Mark mark() const {
    SJ_ASSERT(!peeked_);
    return {pos_, line_, col_};
  }
  Lexer rewind(Mark m) const {
    Lexer l(text_, file_);
    l.pos_ = m.pos;
    l.line_ = m.line;
    l.col_ = m.column;
    return l;
  }

private:
  [[noreturn]] void fail(const Token& at, const std::string& message) const {
    throw Error(loc(at), message);
  }
  // The character at the cursor, or '\0' at the end (which no token class contains).
  char cur() const { return pos_ < text_.size() ? text_[pos_] : '\0'; }
  // Tokens never span lines, so only a newline token moves to the next line.
  void advance() {
    ++pos_;
    ++col_;
  }
  template <typename Pred>
  void skip_while(Pred pred) {
    while (pos_ < text_.size() && pred(text_[pos_]))
      advance();
  }

  void skip_blanks_and_comments() {
    while (pos_ < text_.size()) {
      char c = text_[pos_];
      if (c == ' ' || c == '\t' || c == '\r')
        advance();
      else if (c == '#')
        skip_while([](char c) { return c != '\n'; });
      else
        break;
    }
  }

  Token lex() {
    skip_blanks_and_comments();
    Token t{.kind = Tok::end, .text = {}, .line = line_, .column = col_};
    size_t start = pos_;
    if (pos_ >= text_.size()) return t;
    char c = text_[pos_];
    if (c == '\n') {
      ++pos_;
      ++line_;
      col_ = 1;
      t.kind = Tok::newline;
    } else if (is_alpha(c)) {
      skip_while(is_name_char);
      t.kind = Tok::ident;
    } else if (c == '%') {
      return lex_value(t);
    } else if (is_digit(c) || c == '-') {
      lex_number(t);
    } else if (std::string_view("=(){}[],:").find(c) != std::string_view::npos) {
      advance();
      t.kind = Tok::punct;
    } else {
      fail(t, fmt::format("unexpected character {}", quote(text_.substr(pos_, 1))));
    }
    t.text = text_.substr(start, pos_ - start);
    return t;
  }

  // `%name` or `%123`; the token's text is the label without the '%'.
  Token lex_value(Token t) {
    advance();
    size_t start = pos_;
    if (is_digit(cur())) {
      skip_while(is_digit);
      if (is_name_char(cur())) {
        skip_while(is_name_char);
        fail(t, fmt::format("malformed value label {}: a label is '%' and a name (starting with "
                            "a letter or '_') or '%' and digits",
                            quote(text_.substr(start - 1, pos_ - start + 1))));
      }
    } else if (is_alpha(cur())) {
      skip_while(is_name_char);
    } else {
      fail(t, "expected a value name or number after '%'");
    }
    t.kind = Tok::value;
    t.text = text_.substr(start, pos_ - start);
    return t;
  }

  // '-'? DIGITS ('.' DIGITS*)? ([eE] [+-]? DIGITS)?, or -inf; `inf` and `nan` lex as names.
  void lex_number(Token& t) {
    size_t start = pos_;
    auto malformed = [&](std::string_view why) {
      skip_while([](char c) { return is_name_char(c) || c == '-' || c == '+'; });
      fail(t, fmt::format("malformed number {}{}", quote(text_.substr(start, pos_ - start)), why));
    };
    t.kind = Tok::number;
    if (cur() == '-') {
      advance();
      if (is_alpha(cur())) {
        skip_while(is_name_char);
        if (text_.substr(start, pos_ - start) != "-inf") malformed("");
        return;
      }
      if (!is_digit(cur())) malformed(": expected digits after '-'");
    }
    skip_while(is_digit);
    t.integer = true;
    if (cur() == '.') {
      t.integer = false;
      advance();
      skip_while(is_digit);
    }
    if (cur() == 'e' || cur() == 'E') {
      t.integer = false;
      advance();
      if (cur() == '+' || cur() == '-') advance();
      if (!is_digit(cur())) malformed(": the exponent has no digits");
      skip_while(is_digit);
    }
    if (is_name_char(cur())) malformed("");
  }

  std::string_view text_;
  const std::string& file_;
  size_t pos_ = 0;
  uint32_t line_ = 1, col_ = 1;
  std::optional<Token> peeked_;
};

size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<size_t> prev(b.size() + 1), row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j)
    prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j)
      row[j] = std::min({prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (a[i - 1] != b[j - 1])});
    std::swap(prev, row);
  }
  return prev[b.size()];
}

std::string unknown_op_message(std::string_view name) {
  // A prefix is enough to rank the candidates and keeps a huge name from being slow.
  std::string_view probe = name.substr(0, 64);
  size_t best = std::numeric_limits<size_t>::max();
  std::vector<std::string_view> closest;
  for (Op op : kAllOps) {
    size_t d = edit_distance(probe, op_name(op));
    if (d < best) closest.clear();
    if (d <= best) {
      best = d;
      closest.push_back(op_name(op));
    }
  }
  if (closest.size() > 3) closest.resize(3);
  return fmt::format("unknown op {} (closest: {})", quote(name), fmt::join(closest, ", "));
}

// A constant's value: its literals are read before the type they take their element type and
// shape from, so the tensor is built once the type is known.
struct PendingTensor {
  std::string_view attr;
  Token first;      // the first token of the value, where count errors point
  Lexer::Mark mark; // where its tokens start, to read them again
  int64_t count = 0;
  bool splat = true;
};

class Parser {
public:
  Parser(std::string_view text, const std::string& file, const ParseOptions& options)
      : lex_(text, file), options_(options) {}

  Graph parse_graph() {
    skip_newlines();
    Token kw = lex_.next();
    if (kw.kind != Tok::ident || kw.text != "graph")
      unexpected(kw, "'graph' (the text holds one graph: graph NAME { ... })");
    Token name = lex_.next();
    if (name.kind != Tok::ident) unexpected(name, "the graph's name");
    expect_punct('{', "'{' after the graph's name");
    Graph g{std::string(name.text)};
    for (;;) {
      skip_newlines();
      const Token& t = lex_.peek();
      if (is_punct(t, '}')) break;
      if (t.kind == Tok::value)
        parse_node(g);
      else if (t.kind == Tok::ident && t.text == "output")
        parse_output(g);
      else
        unexpected(t, "a node ('%name = op ...'), an output ('output name = %value') or '}'");
      Token end = lex_.next();
      if (end.kind != Tok::newline)
        unexpected(end, end.kind == Tok::end ? "the rest of the graph and its closing '}'"
                                             : "the end of the line (one node or output per line)");
    }
    lex_.next();
    skip_newlines();
    Token rest = lex_.next();
    if (rest.kind != Tok::end)
      fail(rest, fmt::format("unexpected {} after the graph's closing '}}': the text holds one "
                             "graph, and only comments may follow it",
                             describe(rest)));
    return g;
  }

private:
  [[noreturn]] void fail(const Token& at, const std::string& message) const {
    throw Error(lex_.loc(at), message);
  }
  [[noreturn]] void unexpected(const Token& t, std::string_view expected) const {
    fail(t, fmt::format("unexpected {}, expected {}", describe(t), expected));
  }
  void expect_punct(char c, std::string_view expected) {
    Token t = lex_.next();
    if (!is_punct(t, c)) unexpected(t, expected);
  }
  bool accept_punct(char c) {
    if (!is_punct(lex_.peek(), c)) return false;
    lex_.next();
    return true;
  }
  // After an element of a list: true at `close`, false at ','.
  bool list_end(char close) {
    Token t = lex_.next();
    if (is_punct(t, close)) return true;
    if (!is_punct(t, ',')) unexpected(t, fmt::format("',' or '{}'", close));
    return false;
  }
  void skip_newlines() {
    while (lex_.peek().kind == Tok::newline)
      lex_.next();
  }

  // VALUE '=' OP [ '(' operands ')' ] [ attrs ] ':' TYPE
  void parse_node(Graph& g) {
    Token first = lex_.next();
    if (auto it = values_.find(first.text); it != values_.end())
      fail(first,
           fmt::format("value {} is already defined on line {}", describe(first), it->second.line));
    expect_punct('=', "'=' after the value's name");
    Token op = lex_.next();
    if (op.kind != Tok::ident) unexpected(op, "an op name");
    const OpDef* def = find_op(op.text);
    if (!def) fail(op, unknown_op_message(op.text));

    std::vector<ValueId> operands;
    if (accept_punct('(') && !accept_punct(')')) {
      do {
        Token v = lex_.next();
        if (v.kind != Tok::value) unexpected(v, "an operand ('%name')");
        if (operands.size() == kMaxOperands)
          fail(v, fmt::format("{} has more than {} operands", def->name, kMaxOperands));
        operands.push_back(resolve(v));
      } while (!list_end(')'));
    }
    Attrs attrs;
    std::vector<PendingTensor> tensors;
    if (accept_punct('{')) parse_attrs(*def, attrs, tensors);
    expect_punct(':', "':' and the result type");
    TensorType type = parse_type();
    for (const PendingTensor& p : tensors)
      attrs.set(p.attr, build_tensor(p, type));

    // A numeric label only orders the text: the value is unnamed.
    std::string name = is_digit(first.text[0]) ? std::string() : std::string(first.text);
    ValueId id =
        g.add(def->op, std::move(operands), attrs, lex_.loc(first), std::move(name), &type);
    values_.emplace(first.text, Definition{id, first.line});
  }

  // 'output' NAME '=' VALUE
  void parse_output(Graph& g) {
    Token kw = lex_.next();
    Token name = lex_.next();
    if (name.kind != Tok::ident) unexpected(name, "the output's name");
    expect_punct('=', "'=' after the output's name");
    Token v = lex_.next();
    if (v.kind != Tok::value) unexpected(v, "the output's value ('%name')");
    ValueId id = resolve(v);
    if (auto it = outputs_.find(name.text); it != outputs_.end())
      fail(name,
           fmt::format("output {} is already defined on line {}", quote(name.text), it->second));
    g.add_output(std::string(name.text), id, lex_.loc(kw));
    outputs_.emplace(name.text, kw.line);
  }

  ValueId resolve(const Token& v) const {
    auto it = values_.find(v.text);
    if (it == values_.end())
      fail(v, fmt::format("undefined value {} (an operand must be defined on an earlier line)",
                          describe(v)));
    return it->second.id;
  }

  // DTYPE '[' [ INT (',' INT)* ] ']'
  TensorType parse_type() {
    Token dt = lex_.next();
    if (dt.kind != Tok::ident) unexpected(dt, "a type such as f32[32,100]");
    std::optional<DType> dtype = parse_dtype(dt.text);
    if (!dtype)
      fail(dt,
           fmt::format("unknown dtype {} (expected f32, f64, i32, i64 or bool)", quote(dt.text)));
    expect_punct('[', "'[' and the shape after the dtype (f32[] is a scalar)");
    Shape shape;
    if (!accept_punct(']')) {
      do {
        Token d = lex_.next();
        if (d.kind != Tok::number || !d.integer) unexpected(d, "a dimension (an integer)");
        if (shape.size() == size_t(kMaxRank))
          fail(d, fmt::format("the type has more than {} dimensions", kMaxRank));
        auto n = parse_int<int64_t>(d);
        if (n < 0) fail(d, fmt::format("negative dimension {}", n));
        shape.push_back(n);
      } while (!list_end(']'));
    }
    if (!checked_num_elements(shape))
      fail(dt, fmt::format("the shape {} {}", shape_str(shape), shape_limit_reason(shape)));
    return {*dtype, std::move(shape)};
  }

  // '{' [ NAME '=' attr (',' NAME '=' attr)* ] '}', after the '{'.
  void parse_attrs(const OpDef& def, Attrs& attrs, std::vector<PendingTensor>& tensors) {
    if (accept_punct('}')) return;
    std::vector<std::string_view> seen;
    do {
      Token name = lex_.next();
      if (name.kind != Tok::ident) unexpected(name, "an attribute name");
      auto spec = std::find_if(def.attrs.begin(), def.attrs.end(),
                               [&](const AttrSpec& s) { return s.name == name.text; });
      if (spec == def.attrs.end()) fail(name, no_such_attr(def, name.text));
      if (std::find(seen.begin(), seen.end(), spec->name) != seen.end())
        fail(name, fmt::format("{}: attribute '{}' is given twice", def.name, spec->name));
      seen.push_back(spec->name);
      expect_punct('=', "'=' after the attribute's name");
      if (!spec->list_into.empty() && is_punct(lex_.peek(), '[')) {
        // `padding = [[1, 1], [2, 2]]`: the pairs go to `pads`, which is then given.
        if (std::find(seen.begin(), seen.end(), spec->list_into) != seen.end())
          fail(name, fmt::format("{}: attribute '{}' is given twice", def.name, spec->list_into));
        seen.push_back(spec->list_into);
        attrs.set(spec->list_into, parse_int_list(def, *spec, lex_.next(), /*pairs=*/true));
        attrs.set(spec->name, std::string(spec->list_choice));
      } else if (spec->kind == AttrKind::tensor)
        tensors.push_back(parse_tensor_literal(*spec));
      else
        attrs.set(spec->name, parse_attr_value(def, *spec));
    } while (!list_end('}'));
  }

  static std::string no_such_attr(const OpDef& def, std::string_view name) {
    std::vector<std::string_view> names;
    for (const AttrSpec& s : def.attrs)
      names.push_back(s.name);
    return fmt::format("{} has no attribute {} ({})", def.name, quote(name),
                       names.empty() ? std::string("it takes none")
                                     : fmt::format("it takes: {}", fmt::join(names, ", ")));
  }

  // '[' [ int (',' int)* ] ']', or with `pairs` '[' [ pair (',' pair)* ] ']' where a pair is
  // '[' int ',' int ']'; a plain ints attribute may also be written as pairs (`pad`'s
  // `pads = [[0, 0], [1, 1]]`), flattened either way.
  // `open` is the token read where the list should start.
  std::vector<int64_t> parse_int_list(const OpDef& def, const AttrSpec& spec, const Token& open,
                                      bool pairs) {
    if (!is_punct(open, '['))
      fail(open, fmt::format("{}: attribute '{}' must be {}, got {}", def.name, spec.name,
                             pairs ? "a list of pairs such as [[1, 1], [0, 0]]"
                                   : "an integer list such as [0, 1]",
                             describe(open)));
    std::vector<int64_t> list;
    if (accept_punct(']')) return list;
    pairs = pairs || is_punct(lex_.peek(), '[');
    auto integer = [&] {
      Token e = lex_.next();
      if (e.kind != Tok::number || !e.integer) unexpected(e, "an integer");
      list.push_back(parse_int<int64_t>(e));
    };
    do {
      if (!pairs) {
        integer();
        continue;
      }
      expect_punct('[', "'[' opening a pair such as [1, 1]");
      integer();
      expect_punct(',', "',' between the two numbers of a pair");
      integer();
      expect_punct(']', "']' closing a pair of two numbers");
    } while (!list_end(']'));
    return list;
  }

  AttrValue parse_attr_value(const OpDef& def, const AttrSpec& spec) {
    Token t = lex_.next();
    auto wrong = [&](std::string_view expected) {
      fail(t, fmt::format("{}: attribute '{}' must be {}, got {}", def.name, spec.name, expected,
                          describe(t)));
    };
    switch (spec.kind) {
    case AttrKind::integer:
      if (t.kind != Tok::number || !t.integer) wrong("an integer");
      return parse_int<int64_t>(t);
    case AttrKind::real:
      if (!is_real(t)) wrong("a number");
      return parse_real<double>(t);
    case AttrKind::boolean:
      if (t.kind != Tok::ident || (t.text != "true" && t.text != "false")) wrong("true or false");
      return t.text == "true";
    case AttrKind::name:
      if (t.kind != Tok::ident) wrong("a name");
      return std::string(t.text);
    case AttrKind::dtype: {
      std::optional<DType> dtype;
      if (t.kind == Tok::ident) dtype = parse_dtype(t.text);
      if (!dtype) wrong("a dtype (f32, f64, i32, i64 or bool)");
      return *dtype;
    }
    case AttrKind::ints:
      return parse_int_list(def, spec, t, /*pairs=*/false);
    case AttrKind::tensor:
      break; // parse_tensor_literal
    }
    internal_error("parse_attr_value: unhandled attribute kind");
  }

  // number | '[' [ number (',' number)* ] ']': checks the tokens and counts the elements;
  // build_tensor reads them again once the type is known.
  PendingTensor parse_tensor_literal(const AttrSpec& spec) {
    Lexer::Mark mark = lex_.mark();
    PendingTensor p{.attr = spec.name, .first = lex_.peek(), .mark = mark, .count = 0};
    auto element = [&] {
      Token e = lex_.next();
      if (e.kind != Tok::number && e.kind != Tok::ident) unexpected(e, "a number, true or false");
      ++p.count;
    };
    if (!accept_punct('[')) {
      element();
      return p;
    }
    p.splat = false;
    if (accept_punct(']')) return p;
    do
      element();
    while (!list_end(']'));
    return p;
  }

  Tensor build_tensor(const PendingTensor& p, const TensorType& type) {
    int64_t n = type.num_elements();
    auto bytes = static_cast<int64_t>(type.byte_size());
    if (p.splat) {
      if (bytes > options_.max_splat_bytes)
        fail(p.first, fmt::format("a splat constant of type {} would take {} bytes, the most is "
                                  "{} (broadcast_to a smaller constant instead)",
                                  type.str(), bytes, options_.max_splat_bytes));
    } else if (p.count != n) {
      fail(p.first, fmt::format("the value has {} element{} but the type {} holds {}", p.count,
                                p.count == 1 ? "" : "s", type.str(), n));
    }
    constant_bytes_ += bytes;
    if (constant_bytes_ > options_.max_constant_bytes)
      fail(p.first, fmt::format("with this constant of type {}, the text's constants take {} "
                                "bytes, the most is {} (ParseOptions::max_constant_bytes)",
                                type.str(), constant_bytes_, options_.max_constant_bytes));
    Tensor t(type);
    Lexer again = lex_.rewind(p.mark);
    visit_dtype(type.dtype, [&]<typename T>() {
      T* data = t.data<T>();
      if (p.splat) {
        std::fill_n(data, n, parse_element<T>(again.next()));
        return;
      }
      again.next(); // '['
      for (int64_t i = 0; i < n; ++i) {
        data[i] = parse_element<T>(again.next());
        again.next(); // ',' or ']'
      }
    });
    return t;
  }

  template <typename T>
  T parse_element(const Token& e) const {
    std::string_view dtype = dtype_name(dtype_of<T>());
    if constexpr (std::is_same_v<T, bool>) {
      if (e.kind != Tok::ident || (e.text != "true" && e.text != "false"))
        fail(e, fmt::format("expected true or false for a bool element, got {}", describe(e)));
      return e.text == "true";
    } else if constexpr (std::is_floating_point_v<T>) {
      if (!is_real(e))
        fail(e, fmt::format("expected a number for an {} element, got {}", dtype, describe(e)));
      return parse_real<T>(e);
    } else {
      if (e.kind != Tok::number || !e.integer)
        fail(e, fmt::format("expected an integer for an {} element, got {}", dtype, describe(e)));
      return parse_int<T>(e);
    }
  }

  static bool is_real(const Token& t) {
    return t.kind == Tok::number || (t.kind == Tok::ident && (t.text == "inf" || t.text == "nan"));
  }

  // An integer token (checked by the caller) as T, which it must fit.
  template <typename T>
  T parse_int(const Token& t) const {
    T v{};
    const char* end = t.text.data() + t.text.size();
    auto [ptr, ec] = std::from_chars(t.text.data(), end, v);
    if (ec == std::errc::result_out_of_range)
      fail(t, fmt::format("integer {} is out of range for {} (from {} to {})", quote(t.text),
                          dtype_name(dtype_of<T>()), std::numeric_limits<T>::min(),
                          std::numeric_limits<T>::max()));
    if (ec != std::errc() || ptr != end)
      fail(t, fmt::format("malformed integer {}", quote(t.text)));
    return v;
  }

  // A number token or inf/nan (checked by the caller) as T; from_chars<float> reads f32 values
  // directly, so the shortest text the printer writes reads back bit-exactly.
  template <typename T>
  T parse_real(const Token& t) const {
    if (t.text == "inf") return std::numeric_limits<T>::infinity();
    if (t.text == "-inf") return -std::numeric_limits<T>::infinity();
    if (t.text == "nan") return std::numeric_limits<T>::quiet_NaN();
    T v{};
    const char* end = t.text.data() + t.text.size();
    auto [ptr, ec] = std::from_chars(t.text.data(), end, v);
    if (ec == std::errc::result_out_of_range)
      fail(t, fmt::format("number {} is out of range for {}", quote(t.text),
                          dtype_name(dtype_of<T>())));
    if (ec != std::errc() || ptr != end) fail(t, fmt::format("malformed number {}", quote(t.text)));
    return v;
  }

  struct Definition {
    ValueId id;
    uint32_t line;
  };

  Lexer lex_;
  ParseOptions options_;
  int64_t constant_bytes_ = 0; // materialized so far
  // Keys view the text, which outlives the parser.
  std::unordered_map<std::string_view, Definition> values_; // label (without '%') -> value
  std::unordered_map<std::string_view, uint32_t> outputs_;  // output name -> its line
};

} // namespace

Graph parse(std::string_view text, const std::string& filename, const ParseOptions& options) {
  return Parser(text, filename, options).parse_graph();
}

} // namespace sj

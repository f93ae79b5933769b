#include "runtime/npy.h"

#include "runtime/file_util.h"

#include <algorithm>
#include <atomic>
#include <bit>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <limits>
#include <optional>
#include <string_view>
#include <sys/stat.h>
#include <system_error>
#include <unistd.h>

namespace sj {

// Data is copied byte for byte between the file ('<' order) and host memory.
static_assert(std::endian::native == std::endian::little, "npy.cpp assumes a little-endian host");

namespace {

constexpr std::string_view kMagic = "\x93NUMPY";
constexpr size_t kArrayAlign = 64;
// NumPy >= 1.24 pads the header so the first axis can grow to this many digits in place.
constexpr size_t kGrowthAxisMaxDigits = 21;
constexpr std::string_view kSupported =
    "'<f4' (f32), '<f8' (f64), '<i4' (i32), '<i8' (i64), '|b1' (bool)";

// Untrusted bytes shown in a message: printable ASCII as is, anything else as \xNN, cut short.
std::string quoted(std::string_view s) {
  constexpr size_t kMaxShown = 40;
  std::string out = "'";
  for (size_t i = 0; i < s.size() && i < kMaxShown; ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x7f && c != '\'' && c != '\\')
      out += static_cast<char>(c);
    else
      out += fmt::format("\\x{:02x}", c);
  }
  if (s.size() > kMaxShown) out += "...";
  return out + "'";
}

std::string_view descr_of(DType t) {
  switch (t) {
  case DType::f32:
    return "<f4";
  case DType::f64:
    return "<f8";
  case DType::i32:
    return "<i4";
  case DType::i64:
    return "<i8";
  case DType::boolean:
    return "|b1";
  }
  internal_error("descr_of: unknown dtype");
}

// The shape as Python's repr of a tuple: `()`, `(5,)`, `(2, 3)`.
std::string python_shape(const Shape& shape) {
  if (shape.size() == 1) return fmt::format("({},)", shape[0]);
  return fmt::format("({})", fmt::join(shape, ", "));
}

DType dtype_from_descr(const std::string& descr, const std::string& name) {
  std::string_view body = descr;
  char order = 0;
  if (!body.empty() && std::string_view("<>=|!").find(body[0]) != std::string_view::npos) {
    order = body[0];
    body.remove_prefix(1);
  }
  // One byte has no byte order: NumPy writes '|b1', '?' is the same type.
  if (body == "b1" || body == "?") return DType::boolean;
  std::optional<DType> t;
  if (body == "f4")
    t = DType::f32;
  else if (body == "f8")
    t = DType::f64;
  else if (body == "i4")
    t = DType::i32;
  else if (body == "i8")
    t = DType::i64;
  if (t && (order == '>' || order == '!'))
    file_error(name,
               fmt::format("big-endian dtype {} is not supported; save the array little-endian, "
                           "e.g. np.save(path, a.astype('<{}'))",
                           quoted(descr), body));
  if (!t || order == '|')
    file_error(name,
               fmt::format("unsupported dtype {} (supported: {})", quoted(descr), kSupported));
  return *t;
}

// The fixed part before the header dict: magic, version, header length.
struct Preamble {
  uint64_t header_start = 0;
  uint64_t header_len = 0;
  bool allow_long_suffix = false; // Python 2 wrote `3L`; NumPy still reads it in 1.0 and 2.0
};

// `head` holds the first min(file_size, 12) bytes.
Preamble parse_preamble(std::span<const std::byte> head, uint64_t file_size,
                        const std::string& name) {
  SJ_ASSERT(head.size() == std::min<uint64_t>(file_size, 12));
  auto byte = [&](size_t i) { return std::to_integer<uint8_t>(head[i]); };
  size_t n = std::min(head.size(), kMagic.size());
  for (size_t i = 0; i < n; ++i)
    if (byte(i) != static_cast<uint8_t>(kMagic[i]))
      file_error(name,
                 fmt::format("not a .npy file: byte {} is 0x{:02x}, but a .npy file starts with "
                             "the magic string \\x93NUMPY",
                             i, byte(i)));
  if (file_size < 8)
    file_error(name,
               fmt::format("truncated .npy file: {} bytes, too short for the magic string and "
                           "format version (8 bytes)",
                           file_size));
  int major = byte(6), minor = byte(7);
  if (major < 1 || major > 3 || minor != 0)
    file_error(name, fmt::format("unsupported .npy format version {}.{} (supported: 1.0, 2.0, 3.0)",
                                 major, minor));
  Preamble p;
  size_t len_size = major == 1 ? 2 : 4;
  p.header_start = 8 + len_size;
  if (file_size < p.header_start)
    file_error(name, fmt::format("truncated .npy file: {} bytes, too short for the {}-byte header "
                                 "length of format version {}.0",
                                 file_size, len_size, major));
  for (size_t i = 0; i < len_size; ++i)
    p.header_len |= uint64_t{byte(8 + i)} << (8 * i);
  if (p.header_len > file_size - p.header_start)
    file_error(name, fmt::format("header length {} (at byte 8) runs past the end of the file: the "
                                 "header would end at byte {}, the file has {} bytes",
                                 p.header_len, p.header_start + p.header_len, file_size));
  p.allow_long_suffix = major <= 2;
  return p;
}

struct Header {
  DType dtype = DType::f32;
  Shape shape;
};

// A strict parser for the one Python literal a .npy header holds:
//   {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
// Quotes may be single or double, keys in any order, the trailing comma optional; whitespace may
// surround every token. Nothing else of Python is accepted. Every read is bounds-checked.
class HeaderParser {
public:
  HeaderParser(std::string_view text, const Preamble& p, const std::string& name)
      : text_(text), base_(p.header_start), allow_long_(p.allow_long_suffix), name_(name) {}

  Header parse() {
    skip_space();
    if (!eat('{'))
      fail_here("the header must be a Python dict literal such as {'descr': '<f4', "
                "'fortran_order': False, 'shape': (2, 3), }");
    std::optional<std::string> descr;
    std::optional<bool> fortran_order;
    std::optional<Shape> shape;
    skip_space();
    while (!eat('}')) {
      size_t key_pos = pos_;
      std::string key = parse_string("a key");
      skip_space();
      if (!eat(':')) fail_here(fmt::format("expected ':' after the key {}", quoted(key)));
      skip_space();
      bool duplicate = false;
      if (key == "descr") {
        duplicate = descr.has_value();
        descr = parse_string("a string for 'descr'");
      } else if (key == "fortran_order") {
        duplicate = fortran_order.has_value();
        fortran_order = parse_bool();
      } else if (key == "shape") {
        duplicate = shape.has_value();
        shape = parse_shape();
      } else {
        fail_at(key_pos, fmt::format("unexpected key {}: a .npy header has exactly the keys "
                                     "'descr', 'fortran_order' and 'shape'",
                                     quoted(key)));
      }
      if (duplicate) fail_at(key_pos, fmt::format("duplicate key {}", quoted(key)));
      skip_space();
      if (eat(','))
        skip_space();
      else if (peek() != '}')
        fail_here(fmt::format("expected ',' or '}}' after the value of {}", quoted(key)));
    }
    skip_space();
    if (pos_ != text_.size()) fail_here("unexpected text after the header dict");
    if (!descr) fail_missing("descr");
    if (!fortran_order) fail_missing("fortran_order");
    if (!shape) fail_missing("shape");

    Header h;
    h.dtype = dtype_from_descr(*descr, name_);
    if (*fortran_order)
      file_error(name_,
                 "fortran_order is True: column-major (Fortran-order) arrays are not supported; "
                 "save a C-order array, e.g. np.save(path, np.ascontiguousarray(a))");
    for (int64_t d : *shape)
      if (d < 0)
        file_error(name_,
                   fmt::format("shape {} has a negative dimension {}", python_shape(*shape), d));
    if (!checked_num_elements(*shape))
      file_error(name_, fmt::format("shape {} has more than 2^40 elements", python_shape(*shape)));
    h.shape = std::move(*shape);
    return h;
  }

private:
  // The next character, or -1 at the end of the header.
  int peek() const { return pos_ < text_.size() ? static_cast<unsigned char>(text_[pos_]) : -1; }
  bool eat(char c) {
    if (peek() != static_cast<unsigned char>(c)) return false;
    ++pos_;
    return true;
  }
  void skip_space() {
    while (peek() == ' ' || peek() == '\t' || peek() == '\n' || peek() == '\r' || peek() == '\f')
      ++pos_;
  }
  static bool is_word_char(int c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
  }
  std::string found() const {
    if (peek() < 0) return "the end of the header";
    return quoted(text_.substr(pos_, 1));
  }
  [[noreturn]] void fail_at(size_t pos, const std::string& what) const {
    file_error(name_, fmt::format("malformed .npy header at byte {}: {}", base_ + pos, what));
  }
  [[noreturn]] void fail_here(const std::string& what) const {
    fail_at(pos_, fmt::format("{}; found {}", what, found()));
  }
  [[noreturn]] void fail_missing(std::string_view key) const {
    file_error(name_, fmt::format("the .npy header has no '{}' key; it needs exactly 'descr', "
                                  "'fortran_order' and 'shape'",
                                  key));
  }

  std::string parse_string(std::string_view what) {
    int quote = peek();
    if (quote != '\'' && quote != '"') {
      if (what == "a string for 'descr'" && quote == '[')
        fail_here("'descr' is a list: structured dtypes are not supported");
      fail_here(fmt::format("expected {} in quotes", what));
    }
    size_t start = ++pos_;
    while (peek() != quote) {
      if (peek() < 0 || peek() == '\n') fail_at(start - 1, "unterminated string");
      if (peek() == '\\') fail_here("escape sequences in strings are not supported");
      ++pos_;
    }
    ++pos_;
    return std::string(text_.substr(start, pos_ - 1 - start));
  }

  bool parse_bool() {
    size_t start = pos_;
    while (is_word_char(peek()))
      ++pos_;
    std::string_view word = text_.substr(start, pos_ - start);
    if (word == "True") return true;
    if (word == "False") return false;
    pos_ = start;
    fail_here("expected True or False for 'fortran_order'");
  }

  Shape parse_shape() {
    size_t open = pos_;
    if (!eat('(')) fail_here("expected a tuple of integers such as (2, 3) for 'shape'");
    Shape dims;
    bool comma = false;
    skip_space();
    while (!eat(')')) {
      if (dims.size() == static_cast<size_t>(kMaxRank))
        fail_here(
            fmt::format("the shape has more than {} dimensions, stepjit's maximum rank", kMaxRank));
      dims.push_back(parse_int());
      skip_space();
      comma = eat(',');
      if (comma)
        skip_space();
      else if (peek() != ')')
        fail_here("expected ',' or ')' in the shape");
    }
    // `(5)` is the integer 5 in Python, not a tuple.
    if (dims.size() == 1 && !comma)
      fail_at(open, fmt::format("'shape' ({}) is not a tuple: a 1-D shape is written ({},)",
                                dims[0], dims[0]));
    return dims;
  }

  int64_t parse_int() {
    size_t start = pos_;
    bool negative = eat('-');
    if (peek() < '0' || peek() > '9') fail_here("expected an integer dimension");
    if (peek() == '0' && pos_ + 1 < text_.size() && text_[pos_ + 1] >= '0' &&
        text_[pos_ + 1] <= '9')
      fail_here("leading zeros are not allowed in an integer");
    uint64_t value = 0;
    constexpr uint64_t kMax = std::numeric_limits<int64_t>::max();
    while (peek() >= '0' && peek() <= '9') {
      uint64_t digit = static_cast<uint64_t>(peek() - '0');
      if (value > (kMax - digit) / 10)
        fail_at(start, "a dimension of the shape does not fit in 64 bits");
      value = value * 10 + digit;
      ++pos_;
    }
    if (allow_long_ && peek() == 'L') ++pos_;
    if (is_word_char(peek()) || peek() == '.') fail_here("expected an integer dimension");
    return negative ? -static_cast<int64_t>(value) : static_cast<int64_t>(value);
  }

  std::string_view text_;
  size_t pos_ = 0;
  uint64_t base_; // file offset of text_[0], for messages
  bool allow_long_;
  const std::string& name_;
};

// The data byte count the header asks for, checked against what the file holds.
size_t check_data_size(const Header& h, uint64_t data_offset, uint64_t file_size,
                       const std::string& name) {
  TensorType type{h.dtype, h.shape};
  uint64_t expected = type.byte_size(); // at most 8 * 2^40
  uint64_t actual = file_size - data_offset;
  if (actual < expected)
    file_error(name,
               fmt::format("truncated data: {} needs {} bytes after the header (from byte {}), "
                           "the file has {}",
                           type.str(), expected, data_offset, actual));
  if (actual > expected)
    file_error(name,
               fmt::format("{} extra byte{} after the data: {} needs {} bytes from byte {}, the "
                           "file has {}",
                           actual - expected, actual - expected == 1 ? "" : "s", type.str(),
                           expected, data_offset, actual));
  return static_cast<size_t>(expected);
}

void check_bools(const Tensor& t, uint64_t data_offset, const std::string& name) {
  if (t.dtype() != DType::boolean) return;
  std::span<const std::byte> data = t.bytes();
  for (size_t i = 0; i < data.size(); ++i) {
    auto b = std::to_integer<uint8_t>(data[i]);
    if (b > 1)
      file_error(name, fmt::format("bool element {} (byte {}) is 0x{:02x}; a bool must be 0 or 1",
                                   i, data_offset + i, b));
  }
}

// The NumPy 1.0 header for `t`, padded like np.save pads it.
std::string header_bytes(const Tensor& t) {
  std::string dict = fmt::format("{{'descr': '{}', 'fortran_order': False, 'shape': {}, }}",
                                 descr_of(t.dtype()), python_shape(t.shape()));
  if (t.rank() > 0) {
    size_t digits = fmt::formatted_size("{}", t.shape()[0]);
    dict.append(kGrowthAxisMaxDigits - std::min(digits, kGrowthAxisMaxDigits), ' ');
  }
  size_t prefix = kMagic.size() + 2 + 2;
  size_t hlen = dict.size() + 1; // + '\n'
  // Like NumPy, an already aligned header still gets a full kArrayAlign of padding.
  size_t pad = kArrayAlign - (prefix + hlen) % kArrayAlign;
  SJ_ASSERT(hlen + pad <= 0xffff);
  std::string out(kMagic);
  out += '\x01';
  out += '\x00';
  out += static_cast<char>((hlen + pad) & 0xff);
  out += static_cast<char>((hlen + pad) >> 8);
  out += dict;
  out.append(pad, ' ');
  out += '\n';
  return out;
}

} // namespace

Tensor parse_npy(std::span<const std::byte> bytes, const std::string& name_for_errors) {
  const std::string& name = name_for_errors;
  Preamble p = parse_preamble(bytes.first(std::min<size_t>(bytes.size(), 12)), bytes.size(), name);
  std::span<const std::byte> header_raw = bytes.subspan(p.header_start, p.header_len);
  std::string_view text(reinterpret_cast<const char*>(header_raw.data()), header_raw.size());
  Header h = HeaderParser(text, p, name).parse();
  uint64_t data_offset = p.header_start + p.header_len;
  size_t n = check_data_size(h, data_offset, bytes.size(), name);
  Tensor t({h.dtype, std::move(h.shape)});
  if (n > 0) std::memcpy(t.bytes().data(), bytes.data() + data_offset, n);
  check_bools(t, data_offset, name);
  return t;
}

Tensor read_npy(const std::string& path) {
  InputFile file(path);
  uint64_t size = file.size();
  std::byte head[12];
  std::span<std::byte> head_span(head, std::min<uint64_t>(size, sizeof head));
  file.read(0, head_span);
  Preamble p = parse_preamble(head_span, size, path);
  // parse_preamble checked that the file holds header_len bytes, so this allocation is backed.
  std::string text(p.header_len, '\0');
  file.read(p.header_start, std::as_writable_bytes(std::span(text)));
  Header h = HeaderParser(text, p, path).parse();
  uint64_t data_offset = p.header_start + p.header_len;
  check_data_size(h, data_offset, size, path);
  Tensor t({h.dtype, std::move(h.shape)});
  file.read(data_offset, t.bytes());
  check_bools(t, data_offset, path);
  return t;
}

std::vector<std::byte> serialize_npy(const Tensor& t) {
  std::string header = header_bytes(t);
  std::vector<std::byte> out(header.size() + t.bytes().size());
  std::memcpy(out.data(), header.data(), header.size());
  if (!t.bytes().empty())
    std::memcpy(out.data() + header.size(), t.bytes().data(), t.bytes().size());
  return out;
}

void write_npy(const std::string& path, const Tensor& t) {
  std::string header = header_bytes(t);
  write_file_atomically(path, {std::as_bytes(std::span(header)), t.bytes()});
}

} // namespace sj

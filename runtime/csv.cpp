#include "runtime/csv.h"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <fcntl.h>
#include <fmt/format.h>
#include <limits>
#include <span>
#include <sys/stat.h>
#include <system_error>
#include <unistd.h>
#include <unordered_map>

namespace sj {

namespace {

// More columns than this is not a table of features; it also bounds what one line can allocate.
constexpr size_t kMaxColumns = size_t{1} << 20;
constexpr std::string_view kBom = "\xEF\xBB\xBF";

std::string errno_text(int err) { return std::error_code(err, std::generic_category()).message(); }

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

std::string plural(size_t n, std::string_view word) {
  return fmt::format("{} {}{}", n, word, n == 1 ? "" : "s");
}

void check_options(const CsvOptions& o, const std::string& name) {
  if (!is_float(o.dtype))
    throw Error(Location{name, 0, 0},
                fmt::format("CsvOptions::dtype is {}; a CSV table is read as f32 or f64 (convert "
                            "columns to other types with sj::columns)",
                            dtype_name(o.dtype)));
  char d = o.delimiter;
  auto u = static_cast<unsigned char>(d);
  bool number_char = (d >= '0' && d <= '9') || (d >= 'a' && d <= 'z') || (d >= 'A' && d <= 'Z') ||
                     d == '.' || d == '+' || d == '-';
  if (d == '"' || d == ' ' || d == '\n' || d == '\r' || number_char || u >= 0x80)
    throw Error(Location{name, 0, 0},
                fmt::format("CsvOptions::delimiter {} cannot separate fields: it must not be a "
                            "quote, space, line break, letter, digit, '.', '+', '-' or a "
                            "non-ASCII byte",
                            quoted(std::string_view(&d, 1))));
}

// One field of a line: the byte range of its content (inside the quotes, spaces trimmed) in the
// whole text, and the 1-based column where it starts, for messages.
struct Field {
  size_t begin = 0;
  size_t end = 0;
  uint32_t column = 0;
  bool quoted = false;
  bool escapes = false; // holds "" (only meaningful text for a column name)
};

class Parser {
public:
  Parser(std::string_view text, const std::string& name, const CsvOptions& options)
      : text_(text), name_(name), delim_(options.delimiter) {}

  template <typename T>
  CsvTable parse() {
    CsvTable table;
    table.source = name_;
    if (text_.size() > kMaxCsvBytes)
      fail(0, fmt::format("the file has {} bytes, more than the {} a CSV file may have",
                          text_.size(), kMaxCsvBytes));
    if (text_.starts_with(kBom)) pos_ = kBom.size();
    line_start_ = pos_;

    // The header: the first line, which must not be blank.
    std::string_view line;
    if (!next_line(line)) fail(0, "empty file: the first line must be the header (column names)");
    if (is_blank(line)) {
      while (next_line(line))
        if (!is_blank(line))
          fail(1, 0, "the first line is blank; it must be the header (column names)");
      fail(1, 0, "no header: the file holds only blank lines");
    }
    size_t ncols = split(line, kMaxColumns);
    if (ncols > kMaxColumns)
      fail(line_, 0,
           fmt::format("the header has {} columns, more than the maximum {}", ncols, kMaxColumns));
    std::unordered_map<std::string, size_t> seen;
    for (size_t c = 0; c < ncols; ++c) {
      const Field& f = fields_[c];
      std::string column_name = unescape(f);
      if (column_name.empty())
        fail(line_, f.column,
             fmt::format("column {} of the header has an empty name; every column needs a "
                         "unique, non-empty name",
                         c + 1));
      auto [it, fresh] = seen.emplace(column_name, c);
      if (!fresh)
        fail(line_, f.column,
             fmt::format("duplicate column name {} (columns {} and {}); names must be unique",
                         quoted(column_name), it->second + 1, c + 1));
      table.columns.push_back(std::move(column_name));
    }

    // The rows. Blank lines are allowed only at the end of the file.
    std::vector<T> values;
    uint32_t first_blank = 0;
    while (next_line(line)) {
      if (is_blank(line)) {
        if (first_blank == 0) first_blank = line_;
        continue;
      }
      if (first_blank != 0)
        fail(first_blank, 0,
             fmt::format("blank line inside the data: every row needs {} (only blank lines at "
                         "the end of the file are ignored)",
                         plural(ncols, "field")));
      size_t n = split(line, ncols + 1);
      if (n != ncols) {
        // Point at the first extra field, or at the end of the short row.
        uint32_t col = n > ncols ? fields_[ncols].column : column_of(line_start_ + line.size());
        fail(line_, col,
             fmt::format("this row has {}, the header has {} columns", plural(n, "field"), ncols));
      }
      if (!checked_num_elements(
              {static_cast<int64_t>(table.lines.size()) + 1, static_cast<int64_t>(ncols)}))
        fail(line_, 0, "too many values for one tensor (more than 2^40)");
      for (size_t c = 0; c < ncols; ++c)
        values.push_back(parse_number<T>(fields_[c], table.columns[c]));
      table.lines.push_back(line_);
    }
    auto rows = static_cast<int64_t>(table.lines.size());
    table.data = Tensor::from<T>({rows, static_cast<int64_t>(ncols)}, values);
    return table;
  }

private:
  [[noreturn]] void fail(uint32_t line, uint32_t column, std::string message) const {
    throw Error(Location{name_, line, column}, std::move(message));
  }
  [[noreturn]] void fail(uint32_t line, std::string message) const {
    fail(line, 0, std::move(message));
  }

  uint32_t column_of(size_t pos) const { return static_cast<uint32_t>(pos - line_start_ + 1); }
  bool is_space(char c) const { return c == ' ' || (c == '\t' && delim_ != '\t'); }
  bool is_blank(std::string_view line) const {
    for (char c : line)
      if (!is_space(c)) return false;
    return true;
  }

  // The next line without its "\n" or "\r\n"; false at the end of the text. Sets line_ and
  // line_start_ (the text offset of the line's first byte).
  bool next_line(std::string_view& line) {
    if (ended_) return false;
    size_t nl = text_.find('\n', pos_);
    if (nl == std::string_view::npos) {
      ended_ = true;
      // The text is empty or ends with '\n': there is no further line.
      if (pos_ == text_.size()) return false;
      nl = text_.size();
    }
    line_start_ = pos_;
    ++line_;
    line = text_.substr(pos_, nl - pos_);
    if (line.ends_with('\r')) line.remove_suffix(1);
    pos_ = std::min(nl + 1, text_.size());
    return true;
  }

  // Splits `line` into fields_, keeping at most `keep` of them; returns how many there are.
  size_t split(std::string_view line, size_t keep) {
    fields_.clear();
    const size_t base = line_start_;
    size_t i = 0, count = 0;
    auto at = [&](size_t k) { return line[k]; };
    auto bad_cr = [&](size_t k) {
      fail(line_, column_of(base + k),
           "carriage return (\\r) not followed by a line feed: lines end in \\n or \\r\\n");
    };
    while (true) {
      Field f;
      size_t field_start = i;
      while (i < line.size() && is_space(at(i)))
        ++i;
      if (i < line.size() && at(i) == '"') {
        size_t open = i++;
        f.quoted = true;
        f.column = column_of(base + open);
        f.begin = base + i;
        while (true) {
          if (i == line.size())
            fail(line_, f.column,
                 "unterminated quoted field: the closing quote is missing (a quoted field "
                 "cannot span lines)");
          char c = at(i);
          if (c == '"') {
            if (i + 1 < line.size() && at(i + 1) == '"') {
              f.escapes = true;
              i += 2;
              continue;
            }
            break;
          }
          if (c == '\r') bad_cr(i);
          ++i;
        }
        f.end = base + i;
        ++i; // the closing quote
        while (i < line.size() && is_space(at(i)))
          ++i;
        if (i < line.size() && at(i) != delim_)
          fail(line_, column_of(base + i),
               fmt::format("unexpected {} after the closing quote of a field; expected the "
                           "delimiter {} or the end of the line",
                           quoted(line.substr(i, 1)), quoted(std::string_view(&delim_, 1))));
      } else {
        f.column = column_of(base + i);
        f.begin = base + i;
        while (i < line.size() && at(i) != delim_) {
          if (at(i) == '"')
            fail(line_, column_of(base + i),
                 "a quote inside an unquoted field; quote the whole field (\"...\") and "
                 "double the quotes inside it (\"\")");
          if (at(i) == '\r') bad_cr(i);
          ++i;
        }
        size_t end = i;
        while (end > f.begin - base && is_space(at(end - 1)))
          --end;
        f.end = base + end;
        if (f.end == f.begin) f.column = column_of(base + field_start); // an empty field
      }
      if (count < keep) fields_.push_back(f);
      ++count;
      if (i == line.size()) return count;
      ++i; // the delimiter
    }
  }

  std::string unescape(const Field& f) const {
    std::string_view raw = text_.substr(f.begin, f.end - f.begin);
    if (!f.escapes) return std::string(raw);
    std::string out;
    for (size_t i = 0; i < raw.size(); ++i) {
      out += raw[i];
      if (raw[i] == '"') ++i; // the second quote of ""
    }
    return out;
  }

  template <typename T>
  T parse_number(const Field& f, const std::string& column) const {
    std::string_view s = text_.substr(f.begin, f.end - f.begin);
    while (!s.empty() && is_space(s.front()))
      s.remove_prefix(1);
    while (!s.empty() && is_space(s.back()))
      s.remove_suffix(1);
    if (s.empty())
      fail(line_, f.column,
           fmt::format("missing value at line {}, column {}: the field is empty; every field "
                       "must hold a number (write nan for an unknown value)",
                       line_, quoted(column)));
    std::string_view digits = s;
    // from_chars takes no '+'; one is accepted before the number.
    if (digits.size() > 1 && digits[0] == '+' && digits[1] != '+' && digits[1] != '-')
      digits.remove_prefix(1);
    T value{};
    auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value,
                                     std::chars_format::general);
    if (ec == std::errc::result_out_of_range)
      fail(line_, f.column,
           fmt::format("column {}: {} is out of range for {} (its magnitude rounds to infinity "
                       "or to zero)",
                       quoted(column), quoted(s), dtype_name(dtype_of<T>())));
    if (ec != std::errc() || ptr != digits.data() + digits.size())
      fail(line_, f.column,
           fmt::format("column {}: {} is not a number (expected a decimal number such as "
                       "-1.5e3, or nan or inf)",
                       quoted(column), quoted(s)));
    return value;
  }

  std::string_view text_;
  const std::string& name_;
  char delim_;
  size_t pos_ = 0;
  size_t line_start_ = 0;
  uint32_t line_ = 0;
  bool ended_ = false;
  std::vector<Field> fields_;
};

// A file descriptor closed on scope exit.
class Fd {
public:
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }

private:
  int fd_;
};

[[noreturn]] void fail_file(const std::string& path, std::string message) {
  throw Error(Location{path, 0, 0}, std::move(message));
}

// The value of column `c` of row `r` converted to `dtype`, or an error naming both.
template <typename T>
T convert(double v, const CsvTable& table, int64_t r, const std::string& column) {
  auto fail_value = [&](std::string_view why) {
    auto row = static_cast<size_t>(r);
    uint32_t line = row < table.lines.size() ? table.lines[row] : 0;
    std::string where = line ? fmt::format("row {} (line {})", r, line) : fmt::format("row {}", r);
    throw Error(Location{table.source, line, 0},
                fmt::format("{}, column {}: {} {}", where, quoted(column), v, why));
  };
  constexpr DType t = dtype_of<T>();
  if constexpr (t == DType::f64) {
    return v;
  } else if constexpr (t == DType::f32) {
    auto f = static_cast<float>(v);
    if (std::isfinite(v) && !std::isfinite(f)) fail_value("overflows f32");
    return f;
  } else if constexpr (t == DType::boolean) {
    if (v != 0 && v != 1) fail_value("is not a bool: a bool column must hold 0 or 1");
    return v == 1;
  } else {
    if (!std::isfinite(v) || v != std::trunc(v))
      fail_value(fmt::format("is not a whole number, as {} values (e.g. class indices) must be",
                             dtype_name(t)));
    // Both bounds are powers of two, exact in double.
    constexpr double lo = static_cast<double>(std::numeric_limits<T>::min());
    constexpr double hi = -lo;
    if (v < lo || v >= hi) fail_value(fmt::format("is out of range for {}", dtype_name(t)));
    return static_cast<T>(v);
  }
}

} // namespace

int64_t CsvTable::column_index(std::string_view name) const {
  for (size_t i = 0; i < columns.size(); ++i)
    if (columns[i] == name) return static_cast<int64_t>(i);
  return -1;
}

CsvTable parse_csv(std::string_view text, const std::string& name_for_errors,
                   const CsvOptions& options) {
  check_options(options, name_for_errors);
  Parser p(text, name_for_errors, options);
  if (options.dtype == DType::f64) return p.parse<double>();
  return p.parse<float>();
}

CsvTable read_csv(const std::string& path, const CsvOptions& options) {
  check_options(options, path);
  // O_NONBLOCK: opening a FIFO must not wait for a writer (it is rejected just below).
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
  if (fd.get() < 0) fail_file(path, fmt::format("cannot open for reading: {}", errno_text(errno)));
  struct stat st;
  if (::fstat(fd.get(), &st) != 0)
    fail_file(path, fmt::format("cannot stat: {}", errno_text(errno)));
  if (!S_ISREG(st.st_mode)) fail_file(path, "not a regular file");
  auto size = static_cast<uint64_t>(st.st_size);
  if (size > kMaxCsvBytes)
    fail_file(path, fmt::format("the file has {} bytes, more than the {} a CSV file may have", size,
                                kMaxCsvBytes));
  std::string text(size, '\0');
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = ::pread(fd.get(), text.data() + done, text.size() - done, static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail_file(path, fmt::format("cannot read: {}", errno_text(errno)));
    if (n == 0)
      fail_file(path, fmt::format("unexpected end of file at byte {} (did the file shrink while "
                                  "being read?)",
                                  done));
    done += static_cast<size_t>(n);
  }
  return parse_csv(text, path, options);
}

Tensor columns(const CsvTable& table, const std::vector<std::string>& names, DType dtype,
               Location loc) {
  const Tensor& d = table.data;
  auto ncols = static_cast<int64_t>(table.columns.size());
  if (d.rank() != 2 || !is_float(d.dtype()) || d.shape()[1] != ncols)
    throw Error(loc, fmt::format("malformed CsvTable: data is {}, expected f32 or f64 [rows, {}] "
                                 "for its {}",
                                 d.type().str(), ncols, plural(table.columns.size(), "column")));
  if (names.empty()) throw Error(loc, "no column names given: select at least one column");
  std::vector<int64_t> index;
  for (const std::string& n : names) {
    int64_t i = table.column_index(n);
    if (i < 0) {
      std::string all;
      for (const std::string& c : table.columns)
        all += (all.empty() ? "" : ", ") + quoted(c);
      throw Error(loc,
                  fmt::format("{} has no column {}; its columns are {}",
                              table.source.empty() ? "the table" : table.source, quoted(n), all));
    }
    index.push_back(i);
  }
  int64_t rows = d.shape()[0];
  auto k = static_cast<int64_t>(index.size());
  if (!checked_num_elements({rows, k}))
    throw Error(loc, fmt::format("{} rows x {} columns is more than 2^40 elements", rows, k));
  Tensor out({dtype, {rows, k}});
  visit_dtype(dtype, [&]<typename T>() {
    // Tensor::data<bool> is the byte storage; write bools through it too.
    T* o = out.data<T>();
    visit_dtype(d.dtype(), [&]<typename S>() {
      if constexpr (std::is_floating_point_v<S>) {
        const S* in = d.data<S>();
        for (int64_t r = 0; r < rows; ++r)
          for (int64_t j = 0; j < k; ++j)
            o[r * k + j] = convert<T>(static_cast<double>(in[r * ncols + index[j]]), table, r,
                                      table.columns[static_cast<size_t>(index[j])]);
      }
    });
  });
  return out;
}

Tensor column(const CsvTable& table, const std::string& name, DType dtype, Location loc) {
  Tensor t = columns(table, {name}, dtype, loc);
  Tensor out({dtype, {t.shape()[0]}});
  std::span<const std::byte> src = t.bytes();
  if (!src.empty()) std::memcpy(out.bytes().data(), src.data(), src.size());
  return out;
}

} // namespace sj

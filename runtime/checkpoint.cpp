#include "runtime/checkpoint.h"

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
#include <new>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string_view>
#include <sys/stat.h>
#include <system_error>
#include <unistd.h>

namespace sj {

// Data is copied byte for byte between the file (little-endian) and host memory.
static_assert(std::endian::native == std::endian::little,
              "checkpoint.cpp assumes a little-endian host");

namespace {

using json = nlohmann::ordered_json;

constexpr uint64_t kLengthBytes = 8; // the header length before the header
constexpr std::string_view kMetadataKey = "__metadata__";
constexpr std::string_view kSupported = "F32, F64, I32, I64, BOOL";
constexpr size_t kMaxListed = 10; // names listed in one mismatch message

// Untrusted text shown in a message: printable ASCII as is, any other byte as \xNN, cut short.
// In names (shown in single quotes) a quote or backslash is escaped too, unless `all_printable`.
std::string sanitized(std::string_view s, size_t max_shown = 80, bool all_printable = false) {
  std::string out;
  for (size_t i = 0; i < s.size() && i < max_shown; ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x7f && (all_printable || (c != '\\' && c != '\'')))
      out += static_cast<char>(c);
    else
      out += fmt::format("\\x{:02x}", c);
  }
  if (s.size() > max_shown) out += "...";
  return out;
}

// A name in a message: 'dense_0/kernel'.
std::string q(std::string_view name) { return "'" + sanitized(name) + "'"; }

std::string plural(uint64_t n, std::string_view word) {
  return fmt::format("{} {}{}", n, word, n == 1 ? "" : "s");
}

// `'a', 'b', 'c', and 2 more`: at most kMaxListed items.
std::string listed(const std::vector<std::string>& items) {
  std::vector<std::string> shown(items.begin(), items.begin() + std::min(items.size(), kMaxListed));
  std::string out = fmt::format("{}", fmt::join(shown, ", "));
  if (items.size() > kMaxListed) out += fmt::format(", and {} more", items.size() - kMaxListed);
  return out;
}

std::string_view file_dtype_name(DType t) {
  switch (t) {
  case DType::f32:
    return "F32";
  case DType::f64:
    return "F64";
  case DType::i32:
    return "I32";
  case DType::i64:
    return "I64";
  case DType::boolean:
    return "BOOL";
  }
  internal_error("file_dtype_name: unknown dtype");
}

std::optional<DType> parse_file_dtype(std::string_view s) {
  for (DType t : kAllDTypes)
    if (s == file_dtype_name(t)) return t;
  return std::nullopt;
}

// The reference serializer orders tensors by its dtype enum, descending (U64 I64 F64 U32 F32 I32
// ... BOOL: widest alignment first), then by name, so every tensor is aligned to its element
// size. Our dtypes in that order:
int layout_rank(DType t) {
  switch (t) {
  case DType::i64:
    return 0;
  case DType::f64:
    return 1;
  case DType::f32:
    return 2;
  case DType::i32:
    return 3;
  case DType::boolean:
    return 4;
  }
  internal_error("layout_rank: unknown dtype");
}

// ---- reading ----------------------------------------------------------------------------------

// One tensor as the header describes it; offsets relative to the data section.
struct Entry {
  TensorType type;
  uint64_t begin = 0, end = 0;
};

struct Header {
  std::map<std::string, Entry> entries;
  CheckpointMetadata metadata;
  uint64_t data_start = 0; // file offset of the data section
};

// Where the bytes come from: a file (pread) or memory.
class Source {
public:
  virtual ~Source() = default;
  virtual uint64_t size() const = 0;
  /// Reads exactly out.size() bytes at `offset` (already checked to lie within size()).
  virtual void read(uint64_t offset, std::span<std::byte> out) const = 0;
};

class MemorySource final : public Source {
public:
  explicit MemorySource(std::span<const std::byte> bytes) : bytes_(bytes) {}
  uint64_t size() const override { return bytes_.size(); }
  void read(uint64_t offset, std::span<std::byte> out) const override {
    SJ_ASSERT(offset <= bytes_.size() && out.size() <= bytes_.size() - offset);
    if (!out.empty()) std::memcpy(out.data(), bytes_.data() + offset, out.size());
  }

private:
  std::span<const std::byte> bytes_;
};

class FileSource final : public Source {
public:
  explicit FileSource(const std::string& path) : file_(path) {}
  uint64_t size() const override { return file_.size(); }
  void read(uint64_t offset, std::span<std::byte> out) const override { file_.read(offset, out); }

private:
  InputFile file_;
};

// A JSON scalar as the SAX parser reports it, with what messages need.
struct Scalar {
  std::string_view type;            // "null", "boolean", "number", "string" (JSON's names)
  std::string shown;                // the value in a message
  bool integer = false;             // an integer number ...
  bool negative = false;            // ... below zero
  uint64_t value = 0;               // ... and its value when not negative
  const std::string* str = nullptr; // the string, for strings

  // "null", "boolean true", "number 1.5", "string \"x\"": what follows "a JSON" in a message.
  std::string described() const {
    return type == "null" ? std::string("null") : fmt::format("{} {}", type, shown);
  }
};

// Reads the header as SAX events (nlohmann::json::sax_parse) and checks it against the fixed
// schema as it goes:
//   {"__metadata__": {string: string, ...} or null,
//    name: {"dtype": "F32", "shape": [int, ...], "data_offsets": [int, int]}, ...}
// Streaming keeps memory proportional to what is kept (names, shapes, metadata), sees duplicate
// keys (a DOM silently keeps the last one) and stops at the first error, however deep or long the
// rest of the header is.
class HeaderReader {
public:
  HeaderReader(const std::string& name, Header& out) : name_(name), out_(out) {}

  // ---- the SAX interface ----
  bool null() { return scalar({.type = "null", .shown = "null"}); }
  bool boolean(bool b) { return scalar({.type = "boolean", .shown = b ? "true" : "false"}); }
  bool number_integer(int64_t v) {
    return scalar({.type = "number",
                   .shown = fmt::format("{}", v),
                   .integer = true,
                   .negative = v < 0,
                   .value = v < 0 ? 0 : static_cast<uint64_t>(v)});
  }
  bool number_unsigned(uint64_t v) {
    return scalar({.type = "number", .shown = fmt::format("{}", v), .integer = true, .value = v});
  }
  bool number_float(double, const std::string& text) {
    return scalar({.type = "number", .shown = sanitized(text, 40)});
  }
  bool string(std::string& s) {
    return scalar({.type = "string", .shown = "\"" + sanitized(s, 40, true) + "\"", .str = &s});
  }
  bool binary(json::binary_t&) { internal_error("binary value in JSON text"); }
  bool start_object(size_t) { return start(true); }
  bool start_array(size_t) { return start(false); }
  bool key(std::string& k);
  bool end_object();
  bool end_array();
  template <typename Exception>
  bool parse_error(size_t position, const std::string&, const Exception& ex) {
    // nlohmann counts the offending character as read: position - 1 is its index in the header.
    uint64_t at = kLengthBytes + (position > 0 ? position - 1 : 0);
    std::string what = ex.what();
    size_t col = what.find("column ");
    size_t colon = what.find(": ", col == std::string::npos ? 0 : col);
    if (colon != std::string::npos) what = what.substr(colon + 2);
    file_error(name_,
               fmt::format("malformed JSON header at byte {}: {}", at, sanitized(what, 200, true)));
  }

private:
  std::string who() const { return fmt::format("tensor {}", q(key_)); }
  [[noreturn]] void fail_field(std::string_view what) const {
    file_error(name_, fmt::format("the \"{}\" of {} {}", field_, who(), what));
  }
  // `value`: what follows "a JSON" ("array", "number 3").
  [[noreturn]] void fail_field_type(std::string_view value) const {
    if (field_ == "dtype")
      fail_field(fmt::format("is a JSON {}, not a string such as \"F32\"", value));
    if (field_ == "shape")
      fail_field(fmt::format("is a JSON {}, not an array of dimensions such as [2, 3]", value));
    fail_field(fmt::format("is a JSON {}, not two integers [begin, end]", value));
  }
  [[noreturn]] void fail_element(std::string_view what) const {
    if (field_ == "shape")
      fail_field(fmt::format("must hold non-negative integers; dimension {} is {}",
                             out_shape_.size(), what));
    fail_field(fmt::format("must be two non-negative integers [begin, end]; element {} is {}",
                           count_, what));
  }

  bool start(bool object);
  bool scalar(const Scalar& s);
  void finish_entry();

  const std::string& name_;
  Header& out_;
  std::vector<char> stack_; // open containers: '{' or '['
  std::string key_;         // the current top-level key: a tensor name or "__metadata__"
  bool in_metadata_ = false;
  bool has_metadata_ = false;
  std::string field_;    // the current key inside an entry
  std::string meta_key_; // the current key inside "__metadata__"
  unsigned seen_ = 0;    // the entry's fields seen so far (bits: dtype, shape, data_offsets)
  Entry entry_;          // the entry being read
  Shape out_shape_;      // its shape so far
  uint64_t offsets_[2] = {0, 0};
  size_t count_ = 0; // data_offsets elements so far
};

constexpr std::string_view kFields[] = {"dtype", "shape", "data_offsets"};

bool HeaderReader::start(bool object) {
  std::string_view type = object ? "object" : "array";
  size_t depth = stack_.size();
  SJ_ASSERT(depth > 0 || object); // read_header checked that the header starts with '{'
  if (depth == 1) {
    if (in_metadata_ && !object)
      file_error(name_, "\"__metadata__\" is a JSON array, not an object of strings");
    if (!in_metadata_) {
      if (!object)
        file_error(name_,
                   fmt::format("the entry of {} is a JSON array, not an object with \"dtype\", "
                               "\"shape\" and \"data_offsets\"",
                               who()));
      seen_ = 0;
      entry_ = Entry{};
    }
  } else if (depth == 2) {
    if (in_metadata_)
      file_error(name_, fmt::format("\"__metadata__\" value {} is a JSON {}, not a string",
                                    q(meta_key_), type));
    if (object || field_ == "dtype") fail_field_type(type);
    out_shape_.clear();
    count_ = 0;
  } else if (depth >= 3) {
    fail_element(fmt::format("a JSON {}", type));
  }
  stack_.push_back(object ? '{' : '[');
  return true;
}

bool HeaderReader::key(std::string& k) {
  size_t depth = stack_.size();
  if (depth == 1) {
    bool metadata = k == kMetadataKey;
    if (metadata ? has_metadata_ : out_.entries.count(k) > 0)
      file_error(name_,
                 fmt::format("duplicate key {} in the header (a JSON reader would keep only one "
                             "of them)",
                             q(k)));
    key_ = k;
    in_metadata_ = metadata;
    has_metadata_ = has_metadata_ || metadata;
  } else if (in_metadata_) {
    if (out_.metadata.count(k))
      file_error(name_, fmt::format("duplicate key {} in \"__metadata__\"", q(k)));
    meta_key_ = k;
  } else {
    auto it = std::find(std::begin(kFields), std::end(kFields), k);
    if (it == std::end(kFields))
      file_error(name_, fmt::format("{} has an unexpected key {}; an entry has exactly \"dtype\", "
                                    "\"shape\" and \"data_offsets\"",
                                    who(), q(k)));
    unsigned bit = 1u << (it - std::begin(kFields));
    if (seen_ & bit)
      file_error(name_, fmt::format("duplicate key {} in the entry of {}", q(k), who()));
    seen_ |= bit;
    field_ = k;
  }
  return true;
}

bool HeaderReader::scalar(const Scalar& s) {
  size_t depth = stack_.size();
  SJ_ASSERT(depth > 0); // read_header checked that the header starts with '{'
  if (depth == 1) {
    if (in_metadata_ && s.type == "null") return true; // what the reference writes for "none"
    if (in_metadata_)
      file_error(name_, fmt::format("\"__metadata__\" is a JSON {}, not an object of strings",
                                    s.described()));
    file_error(name_, fmt::format("the entry of {} is a JSON {}, not an object with \"dtype\", "
                                  "\"shape\" and \"data_offsets\"",
                                  who(), s.described()));
  }
  if (depth == 2) {
    if (in_metadata_) {
      if (!s.str)
        file_error(name_, fmt::format("\"__metadata__\" value {} is a JSON {}, not a string",
                                      q(meta_key_), s.described()));
      out_.metadata.emplace(meta_key_, *s.str);
      return true;
    }
    if (field_ != "dtype" || !s.str) fail_field_type(s.described());
    std::optional<DType> t = parse_file_dtype(*s.str);
    if (!t)
      file_error(name_, fmt::format("{} has unsupported dtype {} (supported: {})", who(), s.shown,
                                    kSupported));
    entry_.type.dtype = *t;
    return true;
  }
  // depth 3: an element of "shape" or "data_offsets" (anything else failed at its start)
  std::string what = s.type == "number" ? s.shown : "a JSON " + s.described();
  if (field_ == "shape") {
    if (out_shape_.size() == static_cast<size_t>(kMaxRank))
      fail_field(fmt::format("has more than {} dimensions (stepjit's maximum rank)", kMaxRank));
    if (!s.integer || s.negative) fail_element(what);
    if (s.value > static_cast<uint64_t>(kMaxElements))
      fail_field(fmt::format("has more than 2^40 elements (dimension {} is {})", out_shape_.size(),
                             s.value));
    out_shape_.push_back(static_cast<int64_t>(s.value));
  } else {
    if (count_ == 2) fail_field("must be two integers [begin, end]; it has more than 2 elements");
    if (!s.integer || s.negative) fail_element(what);
    offsets_[count_++] = s.value;
  }
  return true;
}

bool HeaderReader::end_array() {
  stack_.pop_back();
  if (stack_.size() != 2) return true; // a shape or data_offsets array (others failed at start)
  if (field_ == "shape") {
    if (!checked_num_elements(out_shape_))
      file_error(name_, fmt::format("the shape {} of {} has more than 2^40 elements",
                                    shape_str(out_shape_), who()));
    entry_.type.shape = out_shape_;
  } else if (count_ != 2) {
    fail_field(
        fmt::format("must be two integers [begin, end]; it has {}", plural(count_, "element")));
  } else {
    entry_.begin = offsets_[0];
    entry_.end = offsets_[1];
  }
  return true;
}

bool HeaderReader::end_object() {
  stack_.pop_back();
  if (stack_.size() == 1 && !in_metadata_) finish_entry();
  return true;
}

void HeaderReader::finish_entry() {
  std::vector<std::string> missing;
  for (size_t i = 0; i < std::size(kFields); ++i)
    if (!(seen_ & (1u << i))) missing.push_back(fmt::format("\"{}\"", kFields[i]));
  if (!missing.empty())
    file_error(name_, fmt::format("{} has no {}; an entry needs \"dtype\", \"shape\" and "
                                  "\"data_offsets\"",
                                  who(), fmt::join(missing, " or ")));
  if (entry_.begin > entry_.end)
    file_error(name_, fmt::format("the data_offsets [{}, {}] of {} decrease: the end is before the "
                                  "beginning",
                                  entry_.begin, entry_.end, who()));
  uint64_t bytes = entry_.type.byte_size(); // at most 8 * 2^40
  if (entry_.end - entry_.begin != bytes)
    file_error(name_, fmt::format("{} is {} ({}), but its data_offsets [{}, {}] span {}", who(),
                                  entry_.type.str(), plural(bytes, "byte"), entry_.begin,
                                  entry_.end, plural(entry_.end - entry_.begin, "byte")));
  out_.entries.emplace(key_, entry_);
}

// Reads and checks the header and the layout of the data section (not the data itself).
Header read_header(const Source& src, const std::string& name) {
  uint64_t size = src.size();
  if (size < kLengthBytes)
    file_error(name, fmt::format("truncated safetensors file: {}, too short for the 8-byte header "
                                 "length",
                                 plural(size, "byte")));
  std::byte len_bytes[kLengthBytes];
  src.read(0, len_bytes);
  uint64_t n = 0;
  for (size_t i = 0; i < kLengthBytes; ++i)
    n |= uint64_t{std::to_integer<uint8_t>(len_bytes[i])} << (8 * i);
  if (n > kMaxSafetensorsHeader)
    file_error(name,
               fmt::format("header length {} (bytes 0-7) is over the limit of {} bytes: the file "
                           "is corrupt or not a safetensors file",
                           n, kMaxSafetensorsHeader));
  if (n > size - kLengthBytes)
    file_error(name, fmt::format("header length {} (bytes 0-7) runs past the end of the file: the "
                                 "header would end at byte {}, the file has {} bytes",
                                 n, kLengthBytes + n, size));
  // The length is within the file size: this allocation is backed by the file.
  std::string text(n, '\0');
  src.read(kLengthBytes, std::as_writable_bytes(std::span(text)));
  // JSON would allow leading whitespace or a byte order mark; the format, like the reference
  // reader, wants the object right away. A header that starts with '{' can only be an object.
  if (text.empty() || text[0] != '{')
    file_error(name,
               fmt::format("the header (from byte 8) must be a JSON object mapping tensor names to "
                           "{{\"dtype\", \"shape\", \"data_offsets\"}}, starting with '{{'; {}",
                           text.empty() ? std::string("it is empty")
                                        : "it starts with " + q(text.substr(0, 1))));

  // nlohmann's lexer takes a NUL byte for the end of the input and would ignore what follows;
  // JSON text has none (not even in strings), and the padding is spaces.
  if (size_t nul = text.find('\0'); nul != std::string::npos)
    file_error(name,
               fmt::format("malformed JSON header at byte {}: a NUL byte (a header holds JSON "
                           "text and spaces)",
                           kLengthBytes + nul));

  Header h;
  HeaderReader reader(name, h);
  bool ok = json::sax_parse(text.begin(), text.end(), &reader);
  SJ_ASSERT(ok); // every failure above throws

  h.data_start = kLengthBytes + n;
  uint64_t data_size = size - h.data_start;
  for (const auto& [tensor, e] : h.entries)
    if (e.end > data_size)
      file_error(name,
                 fmt::format("the data_offsets [{}, {}] of tensor {} run past the end of the "
                             "file: the data section has {} (from byte {})",
                             e.begin, e.end, q(tensor), plural(data_size, "byte"), h.data_start));
  // The format requires the tensors to cover the data section exactly: no overlaps, no holes.
  std::vector<std::pair<const std::string*, const Entry*>> by_offset;
  for (const auto& [tensor, e] : h.entries)
    by_offset.emplace_back(&tensor, &e);
  // Stable: equal offsets stay in name order, so messages do not depend on the sort.
  std::stable_sort(by_offset.begin(), by_offset.end(), [](const auto& a, const auto& b) {
    return std::pair(a.second->begin, a.second->end) < std::pair(b.second->begin, b.second->end);
  });
  uint64_t pos = 0;
  const std::pair<const std::string*, const Entry*>* prev = nullptr;
  for (const auto& cur : by_offset) {
    const Entry& e = *cur.second;
    if (e.begin < pos)
      file_error(name, fmt::format("the data of tensors {} [{}, {}] and {} [{}, {}] overlap",
                                   q(*prev->first), prev->second->begin, prev->second->end,
                                   q(*cur.first), e.begin, e.end));
    if (e.begin > pos)
      file_error(name,
                 fmt::format(
                     "bytes [{}, {}) of the data section ({}) belong to no tensor: "
                     "the format requires the tensors to cover the data without holes",
                     pos, e.begin,
                     prev ? fmt::format("between tensors {} and {}", q(*prev->first), q(*cur.first))
                          : fmt::format("before tensor {}", q(*cur.first))));
    pos = e.end;
    prev = &cur;
  }
  if (pos < data_size)
    file_error(name,
               fmt::format("{} after the data of the last tensor: the tensors end at byte {}, "
                           "the file has {} bytes",
                           plural(data_size - pos, "extra byte"), h.data_start + pos, size));
  return h;
}

Tensor read_tensor(const Source& src, const Header& h, const std::string& tensor, const Entry& e,
                   const std::string& name) {
  Tensor t;
  try {
    t = Tensor(e.type);
  } catch (const std::bad_alloc&) {
    out_of_memory(Location{name, 0, 0},
                  fmt::format("reading tensor {} of type {}", q(tensor), e.type.str()));
  }
  src.read(h.data_start + e.begin, t.bytes());
  if (t.dtype() == DType::boolean) {
    std::span<const std::byte> data = t.bytes();
    for (size_t i = 0; i < data.size(); ++i) {
      auto b = std::to_integer<uint8_t>(data[i]);
      if (b > 1)
        file_error(name,
                   fmt::format("bool element {} of tensor {} (byte {}) is 0x{:02x}; a bool must "
                               "be 0 or 1",
                               i, q(tensor), h.data_start + e.begin + i, b));
    }
  }
  return t;
}

Safetensors read_all(const Source& src, const std::string& name) {
  Header h = read_header(src, name);
  Safetensors out;
  for (const auto& [tensor, e] : h.entries)
    out.tensors.emplace(tensor, read_tensor(src, h, tensor, e, name));
  out.metadata = std::move(h.metadata);
  return out;
}

// ---- writing ----------------------------------------------------------------------------------

using Ordered = std::vector<std::pair<const std::string*, const Tensor*>>;

// The tensors in file order and the header text, padded with spaces to a multiple of 8.
std::string header_text(const std::map<std::string, Tensor>& tensors,
                        const CheckpointMetadata& metadata, const std::string& path,
                        Ordered& order) {
  // dump() rejects invalid UTF-8; check each string first to say which one it is.
  auto check_utf8 = [&](const std::string& s, const std::string& what) {
    try {
      (void)json(s).dump();
    } catch (const json::type_error&) {
      file_error(path, fmt::format("{} is not valid UTF-8", what));
    }
  };
  for (const auto& [k, v] : metadata) {
    check_utf8(k, fmt::format("the metadata key {}", q(k)));
    check_utf8(v, fmt::format("the metadata value of key {}", q(k)));
  }
  order.clear();
  for (const auto& [tensor, t] : tensors) {
    if (tensor == kMetadataKey)
      file_error(path,
                 "a tensor cannot be named '__metadata__': the format reserves that key for the "
                 "metadata");
    check_utf8(tensor, fmt::format("the tensor name {}", q(tensor)));
    order.emplace_back(&tensor, &t);
  }
  std::stable_sort(order.begin(), order.end(), [](const auto& a, const auto& b) {
    return layout_rank(a.second->dtype()) < layout_rank(b.second->dtype());
  });

  json header = json::object();
  if (!metadata.empty()) {
    json m = json::object();
    for (const auto& [k, v] : metadata)
      m[k] = v;
    header[std::string(kMetadataKey)] = std::move(m);
  }
  uint64_t offset = 0;
  for (const auto& [tensor, t] : order) {
    uint64_t bytes = t->bytes().size();
    json entry = json::object();
    entry["dtype"] = file_dtype_name(t->dtype());
    entry["shape"] = t->shape();
    entry["data_offsets"] = {offset, offset + bytes};
    header[*tensor] = std::move(entry);
    offset += bytes;
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');
  return text;
}

std::string length_prefix(uint64_t n) {
  std::string out(kLengthBytes, '\0');
  for (size_t i = 0; i < kLengthBytes; ++i)
    out[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  return out;
}

} // namespace

std::vector<std::byte> serialize_safetensors(const std::map<std::string, Tensor>& tensors,
                                             const CheckpointMetadata& metadata) {
  Ordered order;
  std::string header = header_text(tensors, metadata, "<memory>", order);
  std::string prefix = length_prefix(header.size());
  size_t total = prefix.size() + header.size();
  for (const auto& [tensor, t] : order)
    total += t->bytes().size();
  std::vector<std::byte> out(total);
  std::byte* p = out.data();
  auto put = [&](std::span<const std::byte> b) {
    if (!b.empty()) std::memcpy(p, b.data(), b.size());
    p += b.size();
  };
  put(std::as_bytes(std::span(prefix)));
  put(std::as_bytes(std::span(header)));
  for (const auto& [tensor, t] : order)
    put(t->bytes());
  return out;
}

void write_safetensors(const std::string& path, const std::map<std::string, Tensor>& tensors,
                       const CheckpointMetadata& metadata) {
  Ordered order;
  std::string header = header_text(tensors, metadata, path, order);
  std::string prefix = length_prefix(header.size());
  std::vector<std::span<const std::byte>> parts{std::as_bytes(std::span(prefix)),
                                                std::as_bytes(std::span(header))};
  for (const auto& [tensor, t] : order)
    parts.push_back(t->bytes());
  write_file_atomically(path, parts);
}

Safetensors parse_safetensors(std::span<const std::byte> bytes,
                              const std::string& name_for_errors) {
  return read_all(MemorySource(bytes), name_for_errors);
}

std::map<std::string, Tensor> read_safetensors(const std::string& path) {
  return read_all(FileSource(path), path).tensors;
}

CheckpointMetadata read_safetensors_metadata(const std::string& path) {
  return read_header(FileSource(path), path).metadata;
}

void save_checkpoint(const std::string& path, const Variables& variables,
                     const CheckpointMetadata& metadata) {
  write_safetensors(path, variables.all(), metadata);
}

void load_checkpoint(const std::string& path, Variables& variables, const LoadOptions& options) {
  FileSource src(path);
  Header h = read_header(src, path);
  const std::map<std::string, Tensor>& current = variables.all();
  std::vector<std::string> problems, unknown, missing;
  for (const auto& [tensor, e] : h.entries) {
    auto it = current.find(tensor);
    if (it == current.end()) {
      if (!options.ignore_extra) unknown.push_back(fmt::format("{} ({})", q(tensor), e.type.str()));
    } else if (it->second.type() != e.type)
      problems.push_back(fmt::format("checkpoint tensor {} is {} but the variable is {}", q(tensor),
                                     e.type.str(), it->second.type().str()));
  }
  if (!options.partial)
    for (const auto& [var, t] : current)
      if (!h.entries.count(var)) missing.push_back(fmt::format("{} ({})", q(var), t.type().str()));
  if (!missing.empty())
    problems.push_back(fmt::format("{} missing from the checkpoint: {} (LoadOptions{{.partial = "
                                   "true}} loads only the tensors a checkpoint holds)",
                                   missing.size() == 1 ? "variable" : "variables",
                                   listed(missing)));
  if (!unknown.empty())
    problems.push_back(fmt::format("{}: {}",
                                   unknown.size() == 1
                                       ? "tensor in the checkpoint that is not a variable"
                                       : "tensors in the checkpoint that are not variables",
                                   listed(unknown)));
  if (!problems.empty()) file_error(path, fmt::format("{}", fmt::join(problems, "; ")));

  // Every tensor is read and checked before any variable changes; the moves below cannot fail.
  std::vector<std::pair<Tensor*, Tensor>> loaded;
  loaded.reserve(h.entries.size());
  for (const auto& [tensor, e] : h.entries)
    if (current.count(tensor))
      loaded.emplace_back(&variables.at(tensor), read_tensor(src, h, tensor, e, path));
  for (auto& [var, value] : loaded)
    *var = std::move(value);
}

} // namespace sj

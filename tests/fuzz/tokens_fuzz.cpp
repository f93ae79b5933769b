// libFuzzer target: the token data of language models, runtime/char_vocabulary.h and
// runtime/token_batcher.h.
//
// The whole input is a text for CharVocabulary, which must hold, for every input:
//   - of(text) throws sj::Error exactly when the text is empty; otherwise its characters are the
//     distinct bytes of the text in increasing order, encode(text) gives i32 [size] ids in
//     [0, size()) that point back at each byte, decode (of the tensor, the vector, and of i64
//     ids) gives the text back, and from_chars(chars()) is the same vocabulary;
//   - from_chars(text) throws sj::Error exactly when the text is empty or repeats a byte;
//   - encode of a byte outside the vocabulary and decode of an id outside [0, size()) or of
//     float ids throw sj::Error.
// The same bytes also describe a TokenBatcher (below: a mode byte, the options, the step, then
// the tokens), which must hold:
//   - the constructor throws sj::Error exactly when the array is not rank-1 i32 or i64, the
//     batch size or context is not positive, there are fewer than context + 1 tokens, a token is
//     outside [0, 2^31), or a batch would have more than 2^40 (kMaxElements) elements, all
//     computed here independently (in unsigned or checked arithmetic);
//   - batch(step) throws sj::Error exactly when step < 0; otherwise x and y are i32 [B, T], each
//     row b the T tokens at offset(step, b) in [0, N - T - 1] and y the same window shifted by one
//     (y[b, t] = x[b, t + 1], the last one the token after the window), and the same step gives
//     the same batch again. Batches are made only when B * T <= 2^16 (bounded memory and time).
//
// The input's layout (missing bytes read as 0, so every input is one):
//   byte 0: the mode. Bits 0-1, the tokens: 0 the rest of the input encoded with its own
//           CharVocabulary (as examples/gpt.cpp does), 1 little-endian i32 values, 2 i64
//           values, 3 one i64 token per byte. Bit 2: batch size and context are 8-byte
//           little-endian int64s (any value), else one byte each, minus 1. Bit 3: the step is an
//           int64, else one byte minus 1. Bits 4-5: the array as [N] (0 and 1), [1, N] (2) or
//           f32 [N] (3). Bits 6-7: unused.
//   byte 1: the seed. Then the batch size, the context, the step; the rest is the tokens.
#include "runtime/char_vocabulary.h"
#include "runtime/token_batcher.h"
#include "tests/fuzz/fuzz_util.h"

#include <cstring>
#include <limits>
#include <vector>

using namespace sj;

namespace {

/// Reads the input front to back; past its end every byte is 0.
struct Reader {
  const uint8_t* data;
  size_t size, pos = 0;
  uint8_t byte() { return pos < size ? data[pos++] : 0; }
  uint64_t bytes(int n) {
    uint64_t v = 0;
    for (int i = 0; i < n; ++i)
      v |= uint64_t(byte()) << (8 * i);
    return v;
  }
  int64_t value(bool wide) { return wide ? int64_t(bytes(8)) : int64_t(byte()) - 1; }
  std::string_view rest() const {
    return {reinterpret_cast<const char*>(data) + std::min(pos, size), size - std::min(pos, size)};
  }
};

std::string str(int64_t v) { return std::to_string(v); }

void check_vocabulary(std::string_view text) {
  CharVocabulary vocab = CharVocabulary::from_chars("?");
  auto err = fuzz::sj_error_of("CharVocabulary::of", [&] { vocab = CharVocabulary::of(text); });
  if (err.has_value() != text.empty())
    fuzz::fail("CharVocabulary::of: " + err.value_or("accepts") + " for a text of " +
               str(int64_t(text.size())) + " bytes");
  bool seen[256] = {};
  bool repeats = false;
  for (unsigned char c : text) {
    repeats = repeats || seen[c];
    seen[c] = true;
  }
  auto chars_err =
      fuzz::sj_error_of("CharVocabulary::from_chars", [&] { CharVocabulary::from_chars(text); });
  if (chars_err.has_value() != (text.empty() || repeats))
    fuzz::fail("CharVocabulary::from_chars: " + chars_err.value_or("accepts") +
               (repeats ? " a text that repeats a byte" : " distinct bytes"));
  if (err) return;

  std::string expected;
  for (int c = 0; c < 256; ++c)
    if (seen[c]) expected.push_back(char(c));
  if (vocab.chars() != expected || vocab.size() != int64_t(expected.size()))
    fuzz::fail("CharVocabulary::of: the characters are not the text's distinct bytes in order");
  Tensor ids;
  if (auto e = fuzz::sj_error_of("encode", [&] { ids = vocab.encode(text); }))
    fuzz::fail("encode of the vocabulary's own text: " + *e);
  if (ids.type() != TensorType{DType::i32, {int64_t(text.size())}})
    fuzz::fail("encode gave " + ids.type().str());
  std::vector<int32_t> list(ids.data<int32_t>(), ids.data<int32_t>() + text.size());
  std::vector<int64_t> wide(list.begin(), list.end());
  for (size_t i = 0; i < text.size(); ++i)
    if (list[i] < 0 || list[i] >= vocab.size() || vocab.chars()[list[i]] != text[i])
      fuzz::fail("encode: id " + str(list[i]) + " at position " + str(int64_t(i)) +
                 " is not its byte's");
  std::string back, from_list, from_wide;
  auto e1 = fuzz::sj_error_of("decode(Tensor)", [&] { back = vocab.decode(ids); });
  auto e2 = fuzz::sj_error_of("decode(vector)", [&] { from_list = vocab.decode(list); });
  auto e3 = fuzz::sj_error_of("decode(i64)", [&] {
    from_wide = vocab.decode(Tensor::from<int64_t>({int64_t(wide.size())}, wide));
  });
  if (e1 || e2 || e3 || back != text || from_list != text || from_wide != text)
    fuzz::fail("decode(encode(text)) is not the text: " +
               e1.value_or(e2.value_or(e3.value_or(""))));
  CharVocabulary again = CharVocabulary::from_chars("?");
  if (auto e =
          fuzz::sj_error_of("from_chars", [&] { again = CharVocabulary::from_chars(expected); }))
    fuzz::fail("from_chars(chars()): " + *e);
  if (again.chars() != vocab.chars() || !(again.encode(text) == ids))
    fuzz::fail("from_chars(chars()) is another vocabulary");

  // Outside the vocabulary: the first byte it lacks, ids at both ends, float ids.
  for (int c = 0; c < 256; ++c)
    if (!seen[c]) {
      std::string other = std::string(text.substr(0, 3)) + char(c);
      if (!fuzz::sj_error_of("encode", [&] { vocab.encode(other); }))
        fuzz::fail("encode accepts a byte outside the vocabulary");
      break;
    }
  for (int32_t bad : {-1, int32_t(vocab.size()), std::numeric_limits<int32_t>::max(),
                      std::numeric_limits<int32_t>::min()}) {
    std::vector<int32_t> one = {0, bad};
    if (!fuzz::sj_error_of("decode", [&] { vocab.decode(one); }) ||
        !fuzz::sj_error_of("decode", [&] { vocab.decode(Tensor::from<int32_t>({2}, one)); }))
      fuzz::fail("decode accepts id " + str(bad) + " of a vocabulary of " + str(vocab.size()));
  }
  for (int64_t bad : {int64_t(1) << 32, std::numeric_limits<int64_t>::min()})
    if (!fuzz::sj_error_of("decode", [&] { vocab.decode(Tensor::from<int64_t>({1}, {bad})); }))
      fuzz::fail("decode accepts i64 id " + str(bad));
  if (!fuzz::sj_error_of("decode", [&] { vocab.decode(Tensor::from<float>({1}, {0.0f})); }))
    fuzz::fail("decode accepts float ids");
}

void check_batcher(const uint8_t* data, size_t size) {
  Reader in{data, size};
  uint8_t mode = in.byte();
  TokenBatcherOptions options{.seed = in.byte()};
  bool wide = mode & 4;
  options.batch_size = in.value(wide);
  options.context = in.value(wide);
  int64_t step = in.value(mode & 8);
  std::string_view rest = in.rest();

  // The token values, as given (before any check), in i64.
  std::vector<int64_t> values;
  int source = mode & 3;
  if (source == 0) {
    if (!rest.empty()) {
      auto vocab = CharVocabulary::of(rest); // (checked above: the whole input is a text too)
      Tensor ids = vocab.encode(rest);
      values.assign(ids.data<int32_t>(), ids.data<int32_t>() + ids.num_elements());
    }
  } else {
    Reader tokens{reinterpret_cast<const uint8_t*>(rest.data()), rest.size()};
    int width = source == 1 ? 4 : source == 2 ? 8 : 1;
    for (size_t i = 0; i + width <= rest.size(); i += width) {
      uint64_t v = tokens.bytes(width);
      values.push_back(width == 4 ? int64_t(int32_t(uint32_t(v))) : int64_t(v));
    }
  }
  const int64_t n = int64_t(values.size());
  int layout = (mode >> 4) & 3;
  DType dtype = layout == 3 ? DType::f32 : source == 1 || source == 0 ? DType::i32 : DType::i64;
  Shape shape = layout == 2 ? Shape{1, n} : Shape{n};
  Tensor tokens({dtype, shape});
  for (int64_t i = 0; i < n; ++i) {
    if (dtype == DType::i32)
      tokens.data<int32_t>()[i] = int32_t(values[i]);
    else if (dtype == DType::i64)
      tokens.data<int64_t>()[i] = values[i];
    else
      tokens.data<float>()[i] = float(values[i]);
  }

  // Whether the constructor must accept, computed without signed overflow.
  const int64_t B = options.batch_size, T = options.context;
  bool valid_values = true;
  for (int64_t v : values)
    valid_values = valid_values && v >= 0 && v <= std::numeric_limits<int32_t>::max();
  bool valid = layout < 2 && B > 0 && T > 0 && uint64_t(n) > uint64_t(T) && valid_values &&
               checked_mul(B, T).has_value();
  std::optional<TokenBatcher> batcher;
  auto err = fuzz::sj_error_of("TokenBatcher", [&] { batcher.emplace(tokens, options); });
  if (err.has_value() == valid)
    fuzz::fail("TokenBatcher: " + err.value_or("accepts") + " for " + tokens.type().str() +
               ", batch_size " + str(B) + ", context " + str(T) +
               (valid_values ? "" : ", a token outside [0, 2^31)"));
  if (err) return;
  if (batcher->num_tokens() != n) fuzz::fail("num_tokens() is not the array's length");

  bool small = B * T <= (int64_t(1) << 16); // (B * T <= 2^40: checked above)
  for (int64_t s : {step, step == std::numeric_limits<int64_t>::max() ? step : step + 1}) {
    for (int64_t b = 0; b < std::min<int64_t>(B, 64); ++b) {
      int64_t o = batcher->offset(std::max<int64_t>(s, 0), b);
      if (o < 0 || o > n - T - 1)
        fuzz::fail("offset " + str(o) + " is outside [0, " + str(n - T - 1) + "]");
    }
    if (!small) continue;
    std::pair<Tensor, Tensor> xy, again;
    auto batch_err = fuzz::sj_error_of("batch", [&] { xy = batcher->batch(s); });
    if (batch_err.has_value() != (s < 0))
      fuzz::fail("batch(" + str(s) + "): " + batch_err.value_or("accepts"));
    if (batch_err) continue;
    const auto& [x, y] = xy;
    if (x.type() != TensorType{DType::i32, {B, T}} || y.type() != x.type())
      fuzz::fail("batch gave " + x.type().str() + " and " + y.type().str());
    for (int64_t b = 0; b < B; ++b) {
      int64_t o = batcher->offset(s, b);
      if (o < 0 || o > n - T - 1)
        fuzz::fail("offset " + str(o) + " is outside [0, " + str(n - T - 1) + "]");
      const int32_t* xr = x.data<int32_t>() + b * T;
      const int32_t* yr = y.data<int32_t>() + b * T;
      for (int64_t t = 0; t < T; ++t) {
        if (xr[t] != values[o + t] || yr[t] != values[o + t + 1])
          fuzz::fail("window " + str(b) + " of batch " + str(s) + " is not the tokens at offset " +
                     str(o));
        if (t + 1 < T && yr[t] != xr[t + 1]) fuzz::fail("y is not x shifted by one");
      }
    }
    again = batcher->batch(s);
    if (!(again.first == x) || !(again.second == y))
      fuzz::fail("batch(" + str(s) + ") differs the second time");
  }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  check_vocabulary({reinterpret_cast<const char*>(data), size});
  check_batcher(data, size);
  return 0;
}

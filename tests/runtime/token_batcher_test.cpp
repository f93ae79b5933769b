// TokenBatcher: next-token windows, deterministic per (seed, step), every offset reachable;
// CharVocabulary: byte-sorted ids, round trips, errors naming the character and position;
// sample_token: temperature, top-k, the softmax's frequencies, determinism per (seed, counter).
#include "runtime/char_vocabulary.h"
#include "runtime/sampling.h"
#include "runtime/token_batcher.h"
#include "tests/support/errors.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <limits>
#include <set>

namespace sj {
namespace {

using test::error_of;
using ::testing::HasSubstr;

Tensor iota_tokens(int64_t n) {
  std::vector<int32_t> t(n);
  for (int64_t i = 0; i < n; ++i)
    t[i] = static_cast<int32_t>(i);
  return Tensor::from<int32_t>({n}, t);
}

TEST(TokenBatcher, WindowsAreNextTokenPairsAtDeterministicOffsets) {
  // Token i is i, so a window's values give its offset away.
  TokenBatcher data(iota_tokens(100), {.batch_size = 4, .context = 8, .seed = 3});
  auto [x, y] = data.batch(5);
  EXPECT_EQ(x.type().str(), "i32[4,8]");
  EXPECT_EQ(y.type().str(), "i32[4,8]");
  for (int64_t b = 0; b < 4; ++b) {
    int32_t start = x.data<int32_t>()[b * 8];
    EXPECT_EQ(start, data.offset(5, b));
    for (int64_t t = 0; t < 8; ++t) {
      EXPECT_EQ(x.data<int32_t>()[b * 8 + t], start + t);
      EXPECT_EQ(y.data<int32_t>()[b * 8 + t], start + t + 1);
    }
  }
  // The same batch again, from another object; another step or seed differs.
  TokenBatcher again(iota_tokens(100), {.batch_size = 4, .context = 8, .seed = 3});
  EXPECT_EQ(again.batch(5).first, x);
  EXPECT_NE(data.batch(6).first, x);
  TokenBatcher other_seed(iota_tokens(100), {.batch_size = 4, .context = 8, .seed = 4});
  EXPECT_NE(other_seed.batch(5).first, x);
}

TEST(TokenBatcher, EveryOffsetIsReachableAndNoneOverruns) {
  // 12 tokens, windows of 9 + 1: offsets 0, 1, 2 only.
  TokenBatcher data(iota_tokens(12), {.batch_size = 3, .context = 9, .seed = 1});
  std::set<int64_t> seen;
  for (int64_t step = 0; step < 50; ++step)
    for (int64_t b = 0; b < 3; ++b) {
      int64_t o = data.offset(step, b);
      EXPECT_GE(o, 0);
      EXPECT_LE(o, 2);
      seen.insert(o);
    }
  EXPECT_EQ(seen, (std::set<int64_t>{0, 1, 2}));
  // The exact minimum: T + 1 tokens give the one window.
  TokenBatcher tight(iota_tokens(10), {.batch_size = 2, .context = 9});
  EXPECT_EQ(tight.batch(0).second.data<int32_t>()[8], 9);
}

TEST(TokenBatcher, MistakesAreExplained) {
  EXPECT_THAT(error_of([] { TokenBatcher(iota_tokens(9), {.batch_size = 2, .context = 9}); }),
              HasSubstr("9 tokens are too few for windows of context + 1 = 10"));
  EXPECT_THAT(error_of([] { TokenBatcher(iota_tokens(9), {.batch_size = 0, .context = 4}); }),
              HasSubstr("batch_size and context must be positive, got 0 and 4"));
  EXPECT_THAT(error_of([] {
                TokenBatcher(Tensor::from<float>({3}, {1, 2, 3}), {.batch_size = 1, .context = 1});
              }),
              HasSubstr("the tokens must be a rank-1 i32 or i64 array, got f32[3]"));
  EXPECT_THAT(error_of([] {
                TokenBatcher(Tensor::from<int64_t>({3}, {1, -2, 3}),
                             {.batch_size = 1, .context = 1});
              }),
              HasSubstr("token -2 at position 1 is not a valid id"));
  TokenBatcher ok(iota_tokens(5), {.batch_size = 1, .context = 2});
  EXPECT_THAT(error_of([&] { ok.batch(-1); }), HasSubstr("step -1 is negative"));
}

// Found by fuzz_tokens (tests/fuzz/tokens_fuzz.cpp): a batch of more than 2^40 elements was
// accepted, and batch() then sized its tensors with B * T * 4 bytes wrapped around 2^64 (here
// 4 bytes for (2^62 + 1) * 4) and wrote past them; a context of 2^63 - 1 overflowed
// `context + 1` (signed overflow, undefined behaviour) in the length check.
TEST(TokenBatcher, SizesOverflowingABatchAreRefused) {
  constexpr int64_t kHuge = (int64_t{1} << 62) + 1;
  EXPECT_THAT(error_of([] { TokenBatcher(iota_tokens(10), {.batch_size = kHuge, .context = 1}); }),
              HasSubstr("a batch of 4611686018427387905 x 1 tokens is more than 2^40"));
  EXPECT_THAT(error_of([] {
                TokenBatcher(iota_tokens(10), {.batch_size = int64_t{1} << 20, .context = 1 << 21});
              }),
              HasSubstr("10 tokens are too few"));
  EXPECT_THAT(error_of([] {
                TokenBatcher(iota_tokens((1 << 21) + 1),
                             {.batch_size = int64_t{1} << 20, .context = 1 << 21});
              }),
              HasSubstr("a batch of 1048576 x 2097152 tokens is more than 2^40"));
  EXPECT_THAT(error_of([] {
                TokenBatcher(iota_tokens(10),
                             {.batch_size = 1, .context = std::numeric_limits<int64_t>::max()});
              }),
              HasSubstr("10 tokens are too few for windows of context + 1 = 9223372036854775808"));
  // 2^40 exactly is a valid size (the check is on the options; nothing is allocated here).
  TokenBatcher at_limit(iota_tokens((1 << 20) + 1),
                        {.batch_size = int64_t{1} << 20, .context = 1 << 20});
  EXPECT_EQ(at_limit.num_tokens(), (1 << 20) + 1);
}

TEST(CharVocabulary, SortedBytesAndRoundTrips) {
  std::string text = "hello, world\n";
  CharVocabulary v = CharVocabulary::of(text);
  EXPECT_EQ(v.chars(), std::string("\n ,dehlorw"));
  EXPECT_EQ(v.size(), 10);
  Tensor ids = v.encode("hold");
  EXPECT_EQ(ids, Tensor::from<int32_t>({4}, {5, 7, 6, 3}));
  EXPECT_EQ(v.decode(ids), "hold");
  EXPECT_EQ(v.decode(v.encode(text)), text);
  EXPECT_EQ(v.decode(std::vector<int32_t>{0, 1}), "\n ");
}

TEST(CharVocabulary, MistakesNameTheCharacterAndPosition) {
  CharVocabulary v = CharVocabulary::of("abc");
  EXPECT_THAT(error_of([&] { v.encode("abxc"); }),
              HasSubstr("'x' at position 2 is not in the vocabulary of 3 characters"));
  EXPECT_THAT(error_of([&] { v.encode("a\tb"); }), HasSubstr("byte 0x09 at position 1"));
  EXPECT_THAT(error_of([&] { v.decode(std::vector<int32_t>{0, 3}); }),
              HasSubstr("id 3 at position 1 is not in [0, 3)"));
  EXPECT_THAT(error_of([&] { v.decode(Tensor::from<float>({1}, {1})); }),
              HasSubstr("ids must be integers, got f32[1]"));
  EXPECT_THAT(error_of([] { CharVocabulary::of(""); }), HasSubstr("the text is empty"));
  EXPECT_THAT(error_of([] { CharVocabulary::from_chars("aba"); }), HasSubstr("'a' is given twice"));
}

} // namespace
} // namespace sj

namespace sj {
namespace {

TEST(SampleToken, TemperatureTopKAndTheSeed) {
  std::vector<float> logits = {0.0f, 3.0f, 1.0f, 2.9f};
  // Greedy in the limit: a tiny temperature always picks the largest logit.
  for (uint64_t c = 0; c < 20; ++c)
    EXPECT_EQ(sample_token(logits, {.temperature = 1e-3, .seed = 7}, c), 1);
  // top_k = 2 never picks outside {1, 3}; both occur; the same (seed, counter) repeats.
  std::set<int32_t> seen;
  for (uint64_t c = 0; c < 200; ++c) {
    int32_t t = sample_token(logits, {.top_k = 2, .seed = 7}, c);
    EXPECT_TRUE(t == 1 || t == 3) << t;
    EXPECT_EQ(t, sample_token(logits, {.top_k = 2, .seed = 7}, c));
    seen.insert(t);
  }
  EXPECT_EQ(seen, (std::set<int32_t>{1, 3}));
  // Frequencies follow softmax: p(0) = e^0 / (e^0 + e^3 + e^1 + e^2.9) = 0.0238.
  int zeros = 0;
  for (uint64_t c = 0; c < 20000; ++c)
    zeros += sample_token(logits, {.seed = 3}, c) == 0;
  EXPECT_NEAR(zeros / 20000.0, 0.0238, 0.004);
  EXPECT_THAT(test::error_of([&] { sample_token(logits, {.temperature = 0}, 0); }),
              HasSubstr("temperature must be > 0 and top_k >= 0, got 0 and 0"));
  EXPECT_THAT(test::error_of([] { sample_token({}, {}, 0); }), HasSubstr("no logits"));
}

} // namespace
} // namespace sj

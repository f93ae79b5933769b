// Writes the binary seed files of the fuzz corpora: .npy arrays and safetensors checkpoints of
// every dtype and a few shapes, as the library's writers write them (the fuzzers mutate them
// from there). Run after changing a writer:
//   build-asan/tests/fuzz/fuzz_make_seeds tests/fuzz/corpus
#include "runtime/checkpoint.h"
#include "runtime/npy.h"

#include <cstdio>
#include <fstream>
#include <limits>
#include <string>

using namespace sj;

namespace {

Tensor sample(DType dtype, const Shape& shape, int salt) {
  Tensor t({dtype, shape});
  visit_dtype(dtype, [&]<typename T>() {
    T* p = t.data<T>();
    for (int64_t i = 0; i < t.num_elements(); ++i) {
      if constexpr (std::is_same_v<T, bool>)
        p[i] = (i + salt) % 3 == 0;
      else
        p[i] = T((i * 7 + salt) % 11) - T(5);
    }
  });
  return t;
}

void write(const std::string& path, const std::vector<std::byte>& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
  if (!out) {
    std::perror(path.c_str());
    std::exit(1);
  }
}

// An input of fuzz_tokens (tokens_fuzz.cpp says the layout): the mode byte, the seed, the
// batch size, context and step (8 bytes each if the mode says so, else one byte holding the
// value + 1), then the tokens.
std::vector<std::byte> tokens_input(uint8_t mode, uint8_t seed, int64_t batch, int64_t context,
                                    int64_t step, const std::string& tokens) {
  std::vector<std::byte> out = {std::byte(mode), std::byte(seed)};
  auto value = [&](int64_t v, bool wide) {
    if (!wide) {
      out.push_back(std::byte(uint8_t(v + 1)));
      return;
    }
    for (int i = 0; i < 8; ++i)
      out.push_back(std::byte(uint8_t(uint64_t(v) >> (8 * i))));
  };
  value(batch, mode & 4);
  value(context, mode & 4);
  value(step, mode & 8);
  for (char c : tokens)
    out.push_back(std::byte(c));
  return out;
}

// Little-endian bytes of `values`, `width` bytes each (fuzz_tokens's raw tokens).
std::string little_endian(std::initializer_list<int64_t> values, int width) {
  std::string out;
  for (int64_t v : values)
    for (int i = 0; i < width; ++i)
      out.push_back(char(uint8_t(uint64_t(v) >> (8 * i))));
  return out;
}

} // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: fuzz_make_seeds CORPUS_DIR (tests/fuzz/corpus)\n");
    return 2;
  }
  std::string dir = argv[1];
  const Shape shapes[] = {{}, {0}, {3}, {2, 3}, {2, 0, 2}, {1, 2, 1, 2}};
  int n = 0;
  for (DType dtype : kAllDTypes)
    for (const Shape& shape : shapes) {
      Tensor t = sample(dtype, shape, n);
      write(dir + "/npy/" + std::string(dtype_name(dtype)) + "_" + std::to_string(n++) + ".npy",
            serialize_npy(t));
    }
  std::map<std::string, Tensor> all;
  n = 0;
  for (DType dtype : kAllDTypes) {
    all["t_" + std::string(dtype_name(dtype))] = sample(dtype, shapes[n % 6], n);
    ++n;
  }
  write(dir + "/safetensors/every_dtype.safetensors", serialize_safetensors(all));
  write(dir + "/safetensors/with_metadata.safetensors",
        serialize_safetensors({{"dense_0/kernel", sample(DType::f32, {3, 2}, 1)},
                               {"dense_0/bias", sample(DType::f32, {2}, 2)},
                               {"adam/step", sample(DType::i64, {}, 3)}},
                              {{"step", "1000"}, {"model", "seed"}}));
  write(dir + "/safetensors/empty.safetensors", serialize_safetensors({}));
  write(dir + "/safetensors/zero_size.safetensors",
        serialize_safetensors(
            {{"e", sample(DType::f64, {0, 4}, 0)}, {"b", sample(DType::boolean, {5}, 1)}}));
  const std::string text = "To be, or not to be, that is the question:\n"
                           "Whether 'tis nobler in the mind to suffer\n"
                           "The slings and arrows of outrageous fortune,\n";
  const std::string tokens = dir + "/tokens/";
  write(tokens + "text.bin", tokens_input(0, 1, 4, 8, 0, text));
  write(tokens + "text_exact_fit.bin", tokens_input(0, 7, 2, 10, 3, "hello world"));
  write(tokens + "text_too_short.bin", tokens_input(0, 7, 2, 11, 3, "hello world"));
  write(tokens + "text_one_char.bin", tokens_input(0, 0, 1, 1, 0, "\n\n"));
  write(tokens + "text_negative_step.bin", tokens_input(0, 2, 3, 4, -1, text));
  write(tokens + "text_zero_batch.bin", tokens_input(0, 2, 0, 4, 0, text));
  write(tokens + "text_rank2.bin", tokens_input(0x20, 2, 3, 4, 0, text));
  write(tokens + "text_f32.bin", tokens_input(0x30, 2, 3, 4, 0, text));
  write(tokens + "binary_text.bin",
        tokens_input(0, 9, 5, 3, 1, std::string("\x00\xff\x7f\x80\x01\xfe\x00\xff", 8)));
  write(tokens + "i32.bin",
        tokens_input(1, 3, 3, 4, 2, little_endian({0, 1, 2, 3, 5, 8, 13, 21, 34, 55}, 4)));
  write(tokens + "i32_negative.bin",
        tokens_input(1, 3, 3, 4, 2, little_endian({0, 1, -1, 3, 4, 5}, 4)));
  write(tokens + "i32_max.bin",
        tokens_input(1, 3, 2, 2, 0, little_endian({2147483647, 0, 2147483647, 1}, 4)));
  write(tokens + "i64.bin", tokens_input(2, 4, 2, 3, 5, little_endian({7, 6, 5, 4, 3, 2, 1}, 8)));
  write(tokens + "i64_over_i32.bin",
        tokens_input(2, 4, 2, 3, 5, little_endian({7, 6, 2147483648, 4, 3, 2, 1}, 8)));
  write(tokens + "bytes.bin", tokens_input(3, 5, 6, 5, 9, text.substr(0, 40)));
  write(tokens + "wide.bin", tokens_input(4, 6, 3, 5, 0, text));
  write(tokens + "wide_step.bin", tokens_input(12, 6, 3, 5, int64_t(1) << 40, text));
  // What the first run found: batches over 2^40 elements (B * T * 4 bytes wrapped around
  // 2^64), a context of 2^63 - 1 (context + 1 overflowed).
  write(tokens + "wide_batch_overflow.bin", tokens_input(4, 6, (int64_t(1) << 62) + 1, 1, 0, text));
  write(tokens + "wide_context_max.bin",
        tokens_input(4, 6, 1, std::numeric_limits<int64_t>::max(), 0, text));
  std::printf("wrote the seeds under %s/npy, %s/safetensors and %s/tokens\n", dir.c_str(),
              dir.c_str(), dir.c_str());
  return 0;
}

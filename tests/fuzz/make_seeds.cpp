// Writes the binary seed files of the fuzz corpora: .npy arrays and safetensors checkpoints of
// every dtype and a few shapes, as the library's writers write them (the fuzzers mutate them
// from there). Run after changing a writer:
//   build-asan/tests/fuzz/fuzz_make_seeds tests/fuzz/corpus
#include "runtime/checkpoint.h"
#include "runtime/npy.h"

#include <cstdio>
#include <fstream>
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
  std::printf("wrote the seeds under %s/npy and %s/safetensors\n", dir.c_str(), dir.c_str());
  return 0;
}

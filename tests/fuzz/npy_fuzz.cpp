// libFuzzer target: .npy files (runtime/npy.h), as bytes and as a file.
//
// Promises checked, for every input:
//   - parse_npy returns a tensor or throws sj::Error (nothing else, no crash, no leak);
//   - read_npy of the same bytes in a file agrees: the same tensor, or an sj::Error too;
//   - a tensor it returns survives serialize_npy -> parse_npy bit for bit.
#include "runtime/npy.h"
#include "tests/fuzz/fuzz_util.h"
#include "tests/fuzz/temp_file.h"

using namespace sj;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Tensor t;
  auto err =
      fuzz::sj_error_of("parse_npy", [&] { t = parse_npy(fuzz::as_bytes(data, size), "in.npy"); });

  const std::string& path = fuzz::write_temp_file(".npy", data, size);
  Tensor from_file;
  auto file_err = fuzz::sj_error_of("read_npy", [&] { from_file = read_npy(path); });
  if (err.has_value() != file_err.has_value())
    fuzz::fail("parse_npy and read_npy disagree on the same bytes: " +
               (err ? "parse_npy: " + *err : "parse_npy accepts") + "; " +
               (file_err ? "read_npy: " + *file_err : "read_npy accepts"));
  if (err) return 0;
  if (!(from_file == t)) fuzz::fail("read_npy and parse_npy give different tensors");

  std::vector<std::byte> written = serialize_npy(t);
  Tensor back;
  if (auto e = fuzz::sj_error_of("parse_npy(serialize_npy(t))",
                                 [&] { back = parse_npy(written, "rewritten.npy"); }))
    fuzz::fail("the writer's file does not read back: " + *e);
  if (!(back == t)) fuzz::fail("serialize_npy -> parse_npy changed the tensor");
  return 0;
}

// Checkpoints (runtime/checkpoint.h): round trips through Variables, resumed training that is
// bit-identical to uninterrupted training (interpreter and compiled), the byte layout against
// bytes written by hand, partial loads, mismatch messages, every malformed file, truncation and
// mutation fuzzing, and atomic saves.
#include "frontend/gradients.h"
#include "frontend/optimizers.h"
#include "graph/builder.h"
#include "runtime/checkpoint.h"
#include "runtime/compiled_step.h"
#include "runtime/interpreter.h"
#include "tests/support/untrusted_files.h"

#include <cmath>
#include <csignal>
#include <filesystem>
#include <fmt/format.h>
#include <fstream>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <limits>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

namespace sj {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::StartsWith;

using test::to_bytes;
using test::to_string;

// The 8-byte little-endian length, written out byte by byte.
std::string length_bytes(uint64_t n) {
  std::string out;
  for (int i = 0; i < 8; ++i)
    out += static_cast<char>((n >> (8 * i)) & 0xff);
  return out;
}

// A safetensors file by hand: the length of `header`, `header` as is, then `data`.
std::string st(std::string_view header, std::string_view data = {}) {
  return length_bytes(header.size()) + std::string(header) + std::string(data);
}

template <typename T>
std::string raw(const std::vector<T>& values) {
  return {reinterpret_cast<const char*>(values.data()), values.size() * sizeof(T)};
}

// One entry of a header: "name":{"dtype":..,"shape":..,"data_offsets":[b,e]}.
std::string entry(std::string_view name, std::string_view dtype, std::string_view shape,
                  uint64_t begin, uint64_t end) {
  return fmt::format(R"("{}":{{"dtype":"{}","shape":{},"data_offsets":[{},{}]}})", name, dtype,
                     shape, begin, end);
}

// The message of the sj::Error that parsing `file` throws; a failure if it throws nothing.
std::string error_of(const std::string& file) {
  return test::file_error_of(parse_safetensors, file, "bad.safetensors");
}

// Parsing must give a result or an sj::Error: nothing else, and never a crash.
void parses_or_errors(const std::vector<std::byte>& file) {
  test::parses_or_errors(parse_safetensors, file, "fuzz.safetensors");
}

Tensor sample(DType dtype, const Shape& shape, uint32_t seed) {
  return test::sample_with_specials(dtype, shape, seed);
}

class CheckpointFiles : public testing::Test {
protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           fmt::format("sj_checkpoint_test_{}_{}", ::getpid(),
                       testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override {
    std::error_code ec;
    fs::permissions(dir_ / "ro", fs::perms::owner_all, ec);
    fs::remove_all(dir_);
  }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  void write_raw(const std::string& name, const std::string& bytes) const {
    std::ofstream(path(name), std::ios::binary) << bytes;
  }
  std::string read_raw(const std::string& name) const {
    std::ifstream in(path(name), std::ios::binary);
    return {std::istreambuf_iterator<char>(in), {}};
  }
  // The names in the test directory, sorted.
  std::vector<std::string> entries() const {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(dir_))
      names.push_back(e.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
  }
  // The message of the sj::Error that loading `file` throws.
  std::string load_error(const std::string& file, Variables& vars, LoadOptions options = {}) {
    try {
      load_checkpoint(path(file), vars, options);
    } catch (const Error& e) {
      EXPECT_EQ(e.location(), (Location{path(file), 0, 0}));
      return e.message();
    }
    ADD_FAILURE() << "no error loading " << file;
    return "";
  }

  fs::path dir_;
};

// ---------------------------------------------------------------------------------------------
// Round trips

// Rank r: the first r of these dimensions.
const Shape kDims = {2, 3, 1, 2, 1, 2};

Graph every_dtype_and_rank() {
  Graph g("all_types");
  for (DType dtype : kAllDTypes)
    for (int rank = 0; rank <= kMaxRank; ++rank)
      variable(g, fmt::format("{}_r{}", dtype_name(dtype), rank),
               {dtype, Shape(kDims.begin(), kDims.begin() + rank)});
  variable(g, "empty/f32", {DType::f32, {4, 0, 2}});
  variable(g, "empty/bool", {DType::boolean, {0}});
  return g;
}

TEST_F(CheckpointFiles, EveryDTypeAndRankRoundTripsThroughVariables) {
  Graph g = every_dtype_and_rank();
  Variables saved(g);
  uint32_t seed = 0;
  for (const auto& [name, t] : std::map<std::string, Tensor>(saved.all()))
    saved.set(name, sample(t.dtype(), t.shape(), ++seed));
  ASSERT_EQ(saved.all().size(), 37u);
  save_checkpoint(path("all.safetensors"), saved, {{"what", "every dtype"}});

  Variables loaded(g);
  load_checkpoint(path("all.safetensors"), loaded);
  for (const auto& [name, t] : saved.all()) {
    SCOPED_TRACE(name);
    EXPECT_TRUE(loaded.get(name) == t); // same type, bit-identical (NaNs included)
  }
  EXPECT_EQ(read_safetensors(path("all.safetensors")), saved.all());
  EXPECT_EQ(read_safetensors_metadata(path("all.safetensors")),
            (CheckpointMetadata{{"what", "every dtype"}}));
  EXPECT_EQ(entries(), std::vector<std::string>{"all.safetensors"});
}

// The layout, checked with an independent JSON reader: 8-byte header length, a header padded to
// a multiple of 8, tensors contiguous from offset 0 in the reference order (8-byte dtypes, 4-byte,
// bool; names sorted within a dtype), each aligned to its element size.
TEST_F(CheckpointFiles, LayoutIsContiguousAlignedAndInReferenceOrder) {
  Graph g = every_dtype_and_rank();
  Variables vars(g);
  save_checkpoint(path("all.safetensors"), vars);
  std::string file = read_raw("all.safetensors");
  uint64_t n = 0;
  for (int i = 0; i < 8; ++i)
    n |= uint64_t{static_cast<unsigned char>(file[i])} << (8 * i);
  ASSERT_LE(8 + n, file.size());
  EXPECT_EQ(n % 8, 0u);
  std::string header = file.substr(8, n);
  size_t json_end = header.find_last_not_of(' ') + 1; // then padding spaces only
  EXPECT_EQ(header[json_end - 1], '}');
  EXPECT_LT(header.size() - json_end, 8u);
  auto j = nlohmann::ordered_json::parse(header);
  EXPECT_FALSE(j.contains("__metadata__")); // none given, none written
  uint64_t pos = 0;
  std::vector<std::string> order;
  for (const auto& [name, e] : j.items()) {
    auto begin = e["data_offsets"][0].get<uint64_t>(), end = e["data_offsets"][1].get<uint64_t>();
    EXPECT_EQ(begin, pos) << name;
    const Tensor& t = vars.get(name);
    EXPECT_EQ(end - begin, t.bytes().size()) << name;
    EXPECT_EQ((8 + n + begin) % dtype_size(t.dtype()), 0u) << name;
    pos = end;
    order.push_back(std::string(dtype_name(t.dtype())) + " " + name);
  }
  EXPECT_EQ(8 + n + pos, file.size());
  std::vector<std::string> expected;
  for (const char* dtype : {"i64", "f64", "f32", "i32", "bool"}) {
    std::vector<std::string> names;
    for (const auto& [name, t] : vars.all())
      if (dtype_name(t.dtype()) == dtype) names.push_back(std::string(dtype) + " " + name);
    expected.insert(expected.end(), names.begin(), names.end()); // map order: sorted
  }
  EXPECT_EQ(order, expected);
}

// A small file against bytes written out by hand.
TEST_F(CheckpointFiles, ByteLayoutOfASmallFile) {
  Graph g("layout");
  variable(g, "w", {DType::f32, {2}});
  variable(g, "step", {DType::i64, {}});
  variable(g, "mask", {DType::boolean, {3}});
  variable(g, "b", {DType::f64, {1}});
  Variables vars(g);
  vars.set("w", Tensor::from<float>({2}, {1.0f, -2.0f}));
  vars.set("step", Tensor::scalar(int64_t{3}));
  vars.set("mask", Tensor::from_bool({3}, {true, false, true}));
  vars.set("b", Tensor::from<double>({1}, {0.5}));
  save_checkpoint(path("small.safetensors"), vars, {{"epoch", "7"}});

  // 253 bytes of JSON + 3 spaces = 256 = 0x100.
  std::string expected = std::string("\x00\x01\x00\x00\x00\x00\x00\x00", 8) +
                         R"({"__metadata__":{"epoch":"7"},)"
                         R"("step":{"dtype":"I64","shape":[],"data_offsets":[0,8]},)"
                         R"("b":{"dtype":"F64","shape":[1],"data_offsets":[8,16]},)"
                         R"("w":{"dtype":"F32","shape":[2],"data_offsets":[16,24]},)"
                         R"("mask":{"dtype":"BOOL","shape":[3],"data_offsets":[24,27]}})"
                         "   " +
                         std::string("\x03\x00\x00\x00\x00\x00\x00\x00" // step = 3
                                     "\x00\x00\x00\x00\x00\x00\xe0\x3f" // b = 0.5
                                     "\x00\x00\x80\x3f\x00\x00\x00\xc0" // w = 1, -2
                                     "\x01\x00\x01",                    // mask
                                     27);
  EXPECT_EQ(read_raw("small.safetensors"), expected);
  EXPECT_EQ(to_string(serialize_safetensors(vars.all(), {{"epoch", "7"}})), expected);
}

TEST(CheckpointLayout, NoTensorsAndNoMetadata) {
  // "{}" padded to 8 bytes.
  std::string expected = std::string("\x08\x00\x00\x00\x00\x00\x00\x00", 8) + "{}      ";
  EXPECT_EQ(to_string(serialize_safetensors({})), expected);
  Safetensors s = parse_safetensors(to_bytes(expected), "empty.safetensors");
  EXPECT_TRUE(s.tensors.empty());
  EXPECT_TRUE(s.metadata.empty());
}

TEST(CheckpointLayout, MetadataKeysAreSortedAndEscaped) {
  CheckpointMetadata md = {{"z", "last"}, {"a", "quote \" backslash \\ newline \n é"}};
  std::string file = to_string(serialize_safetensors({}, md));
  EXPECT_THAT(
      file, HasSubstr(R"({"__metadata__":{"a":"quote \" backslash \\ newline \n é","z":"last"}})"));
  EXPECT_EQ(parse_safetensors(to_bytes(file), "m.safetensors").metadata, md);
}

// ---------------------------------------------------------------------------------------------
// Resuming training: optimizer slots, hyperparameters and the step counter round-trip.

Graph tiny_adam_model() {
  Graph g("tiny");
  auto x = input(g, "x", {DType::f32, {4, 3}});
  auto y = input(g, "y", {DType::f32, {4, 1}});
  auto w = variable(g, "w", {DType::f32, {3, 1}}, Init::glorot_uniform(1));
  auto b = variable(g, "b", {DType::f32, {1}});
  auto loss = named(reduce_mean(square(matmul(x, w) + b - y)), "loss");
  output("loss", loss);
  Adam({.learning_rate = 0.1}).minimize(loss, {w, b});
  return g;
}

std::map<std::string, Tensor> feeds(int step) {
  std::vector<float> x(12), y(4);
  for (int i = 0; i < 12; ++i)
    x[i] = std::sin(0.7f * float(i) + float(step));
  for (int i = 0; i < 4; ++i)
    y[i] = std::cos(1.3f * float(i) - float(step));
  return {{"x", Tensor::from<float>({4, 3}, x)}, {"y", Tensor::from<float>({4, 1}, y)}};
}

struct Recorded {
  std::vector<Tensor> losses;
  std::map<std::string, Tensor> variables;
};

// Steps 0-2, save, steps 3-4 recorded; then a fresh runner loads and runs steps 3-4.
template <typename Runner, typename Make>
void resume_is_bit_identical(Make make, const std::string& file) {
  Runner first = make();
  for (int s = 0; s < 3; ++s)
    first.run(feeds(s));
  save_checkpoint(file, first.variables(), {{"step", "3"}});
  Recorded want;
  for (int s = 3; s < 5; ++s)
    want.losses.push_back(first.run(feeds(s)).at("loss"));
  want.variables = first.variables().all();

  // The checkpoint holds the optimizer state as plain variables.
  auto saved = read_safetensors(file);
  for (const char* name :
       {"w", "b", "w.adam_m", "w.adam_v", "b.adam_m", "b.adam_v", "adam/learning_rate",
        "adam/beta1", "adam/beta2", "adam/epsilon", "adam/step"})
    EXPECT_TRUE(saved.count(name)) << name;
  EXPECT_EQ(saved.at("adam/step"), Tensor::scalar(int64_t{3}));
  EXPECT_EQ(saved.size(), first.variables().all().size());

  Runner second = make();
  EXPECT_FALSE(second.variables().get("w.adam_m") == saved.at("w.adam_m")); // loading matters
  load_checkpoint(file, second.variables());
  for (int s = 3; s < 5; ++s)
    EXPECT_EQ(second.run(feeds(s)).at("loss"), want.losses[size_t(s - 3)]) << "step " << s;
  EXPECT_EQ(second.variables().all(), want.variables);
  EXPECT_EQ(second.variables().get("adam/step"), Tensor::scalar(int64_t{5}));
}

TEST_F(CheckpointFiles, ResumedInterpreterTrainingIsBitIdentical) {
  Graph g = tiny_adam_model();
  resume_is_bit_identical<Interpreter>([&] { return Interpreter(g); }, path("i.safetensors"));
}

TEST_F(CheckpointFiles, ResumedCompiledTrainingIsBitIdentical) {
  Graph g = tiny_adam_model();
  resume_is_bit_identical<CompiledStep>([&] { return CompiledStep::compile(g); },
                                        path("c.safetensors"));
}

TEST_F(CheckpointFiles, InterpreterCheckpointLoadsIntoACompiledStep) {
  Graph g = tiny_adam_model();
  Interpreter interp(g);
  for (int s = 0; s < 3; ++s)
    interp.run(feeds(s));
  save_checkpoint(path("x.safetensors"), interp.variables());
  auto step = CompiledStep::compile(g);
  load_checkpoint(path("x.safetensors"), step.variables());
  EXPECT_EQ(step.variables().all(), interp.variables().all());
  Tensor a = interp.run(feeds(3)).at("loss"), b = step.run(feeds(3)).at("loss");
  EXPECT_NEAR(a.as_double(0), b.as_double(0), 1e-5 * std::max(1.0, std::abs(a.as_double(0))));
}

// ---------------------------------------------------------------------------------------------
// Partial loads and mismatches

Graph dense_model() {
  Graph g("dense");
  variable(g, "dense_0/kernel", {DType::f32, {100, 10}}, Init::glorot_uniform(1));
  variable(g, "dense_0/bias", {DType::f32, {10}});
  variable(g, "adam/step", {DType::i64, {}});
  return g;
}

TEST_F(CheckpointFiles, PartialLoadReplacesOnlyTheTensorsPresent) {
  Graph g = dense_model();
  Variables vars(g);
  vars.set("adam/step", Tensor::scalar(int64_t{42}));
  Tensor kernel = sample(DType::f32, {100, 10}, 7);
  write_safetensors(path("weights.safetensors"), {{"dense_0/kernel", kernel}});
  Tensor bias_before = vars.get("dense_0/bias");

  EXPECT_EQ(load_error("weights.safetensors", vars),
            "variables missing from the checkpoint: 'adam/step' (i64[]), 'dense_0/bias' (f32[10]) "
            "(LoadOptions{.partial = true} loads only the tensors a checkpoint holds)");
  EXPECT_FALSE(vars.get("dense_0/kernel") == kernel); // nothing loaded

  load_checkpoint(path("weights.safetensors"), vars, {.partial = true});
  EXPECT_EQ(vars.get("dense_0/kernel"), kernel);
  EXPECT_EQ(vars.get("dense_0/bias"), bias_before);
  EXPECT_EQ(vars.get("adam/step"), Tensor::scalar(int64_t{42}));
}

TEST_F(CheckpointFiles, PartialLoadStillChecksEveryTensor) {
  Graph g = dense_model();
  Variables vars(g);
  Tensor kernel_before = vars.get("dense_0/kernel");
  write_safetensors(path("extra.safetensors"),
                    {{"dense_0/kernel", sample(DType::f32, {100, 10}, 1)},
                     {"dense_9/kernel", Tensor({DType::f32, {2}})}});
  EXPECT_EQ(load_error("extra.safetensors", vars, {.partial = true}),
            "tensor in the checkpoint that is not a variable: 'dense_9/kernel' (f32[2])");
  write_safetensors(path("wrong.safetensors"),
                    {{"dense_0/kernel", sample(DType::f32, {100, 10}, 1)},
                     {"dense_0/bias", Tensor({DType::f64, {10}})}});
  EXPECT_EQ(load_error("wrong.safetensors", vars, {.partial = true}),
            "checkpoint tensor 'dense_0/bias' is f64[10] but the variable is f32[10]");
  EXPECT_EQ(vars.get("dense_0/kernel"), kernel_before); // all or nothing
}

TEST_F(CheckpointFiles, IgnoreExtraSkipsTensorsThatAreNotVariables) {
  Graph g = dense_model();
  Variables vars(g);
  Tensor kernel = sample(DType::f32, {100, 10}, 3);
  write_safetensors(
      path("training.safetensors"),
      {{"dense_0/kernel", kernel}, {"dense_0/kernel.adam_m", Tensor({DType::f32, {100, 10}})}});
  load_checkpoint(path("training.safetensors"), vars, {.partial = true, .ignore_extra = true});
  EXPECT_EQ(vars.get("dense_0/kernel"), kernel);
  // A skipped tensor is not checked against anything, but a matching name still is.
  write_safetensors(path("bad.safetensors"), {{"dense_0/kernel", Tensor({DType::f64, {2}})},
                                              {"other", Tensor({DType::f32, {1}})}});
  EXPECT_EQ(load_error("bad.safetensors", vars, {.partial = true, .ignore_extra = true}),
            "checkpoint tensor 'dense_0/kernel' is f64[2] but the variable is f32[100,10]");
}

TEST_F(CheckpointFiles, MismatchMessages) {
  Graph g = dense_model();
  Variables vars(g);
  Variables before = vars;
  auto file = [&](std::map<std::string, Tensor> tensors) {
    tensors.emplace("adam/step", Tensor::scalar(int64_t{1}));
    write_safetensors(path("m.safetensors"), tensors);
  };
  // Shape.
  file({{"dense_0/kernel", Tensor({DType::f32, {10, 100}})},
        {"dense_0/bias", Tensor({DType::f32, {10}})}});
  EXPECT_EQ(load_error("m.safetensors", vars),
            "checkpoint tensor 'dense_0/kernel' is f32[10,100] but the variable is f32[100,10]");
  // Dtype.
  file({{"dense_0/kernel", Tensor({DType::f64, {100, 10}})},
        {"dense_0/bias", Tensor({DType::f32, {10}})}});
  EXPECT_EQ(load_error("m.safetensors", vars),
            "checkpoint tensor 'dense_0/kernel' is f64[100,10] but the variable is f32[100,10]");
  // Rank.
  file({{"dense_0/kernel", Tensor({DType::f32, {100, 10}})},
        {"dense_0/bias", Tensor({DType::f32, {1, 10}})}});
  EXPECT_EQ(load_error("m.safetensors", vars),
            "checkpoint tensor 'dense_0/bias' is f32[1,10] but the variable is f32[10]");
  // Missing and unknown.
  file({{"dense_0/kernel", Tensor({DType::f32, {100, 10}})},
        {"dense_0/b", Tensor({DType::f32, {10}})}});
  EXPECT_EQ(load_error("m.safetensors", vars),
            "variable missing from the checkpoint: 'dense_0/bias' (f32[10]) (LoadOptions{.partial "
            "= true} loads only the tensors a checkpoint holds); tensor in the checkpoint that is "
            "not a variable: 'dense_0/b' (f32[10])");
  // Everything at once, every problem listed.
  file({{"dense_0/kernel", Tensor({DType::i32, {100, 10}})},
        {"x", Tensor({DType::f32, {}})},
        {"y", Tensor({DType::boolean, {2}})}});
  EXPECT_EQ(load_error("m.safetensors", vars),
            "checkpoint tensor 'dense_0/kernel' is i32[100,10] but the variable is f32[100,10]; "
            "variable missing from the checkpoint: 'dense_0/bias' (f32[10]) (LoadOptions{.partial "
            "= true} loads only the tensors a checkpoint holds); tensors in the checkpoint that "
            "are not variables: 'x' (f32[]), 'y' (bool[2])");
  EXPECT_EQ(vars.all(), before.all());
}

TEST_F(CheckpointFiles, LongListsAreCut) {
  Graph g("many");
  for (int i = 0; i < 13; ++i)
    variable(g, fmt::format("v{:02}", i), {DType::f32, {}});
  Variables vars(g);
  write_safetensors(path("none.safetensors"), {});
  EXPECT_EQ(load_error("none.safetensors", vars),
            "variables missing from the checkpoint: 'v00' (f32[]), 'v01' (f32[]), 'v02' (f32[]), "
            "'v03' (f32[]), 'v04' (f32[]), 'v05' (f32[]), 'v06' (f32[]), 'v07' (f32[]), 'v08' "
            "(f32[]), 'v09' (f32[]), and 3 more (LoadOptions{.partial = true} loads only the "
            "tensors a checkpoint holds)");
}

// A bad bool byte in the last tensor read: found before any variable changes.
TEST_F(CheckpointFiles, BadDataChangesNoVariable) {
  Graph g("flags");
  variable(g, "a", {DType::f32, {2}});
  variable(g, "z", {DType::boolean, {2}});
  Variables vars(g);
  std::vector<std::byte> bytes = serialize_safetensors(
      {{"a", Tensor::from<float>({2}, {1, 2})}, {"z", Tensor::from_bool({2}, {true, true})}});
  bytes.back() = std::byte{2};
  write_raw("bad.safetensors", to_string(bytes));
  EXPECT_THAT(load_error("bad.safetensors", vars),
              HasSubstr("bool element 1 of tensor 'z' (byte "));
  EXPECT_EQ(vars.get("a"), Tensor({DType::f32, {2}}));
}

// ---------------------------------------------------------------------------------------------
// Malformed files: each with its message.

const std::string kF32One = raw(std::vector<float>{1.5f});
const std::string kA = entry("a", "F32", "[1]", 0, 4);

TEST(CheckpointMalformed, HeaderLength) {
  EXPECT_EQ(error_of(""),
            "truncated safetensors file: 0 bytes, too short for the 8-byte header length");
  EXPECT_EQ(error_of(std::string("\x02\x00\x00", 3)),
            "truncated safetensors file: 3 bytes, too short for the 8-byte header length");
  EXPECT_EQ(error_of(length_bytes(100) + "{}"),
            "header length 100 (bytes 0-7) runs past the end of the file: the header would end "
            "at byte 108, the file has 10 bytes");
  EXPECT_EQ(error_of(length_bytes(uint64_t{1} << 63) + "{}"),
            "header length 9223372036854775808 (bytes 0-7) is over the limit of 100000000 bytes: "
            "the file is corrupt or not a safetensors file");
  EXPECT_EQ(error_of(length_bytes(~uint64_t{0}) + "{}"),
            "header length 18446744073709551615 (bytes 0-7) is over the limit of 100000000 bytes: "
            "the file is corrupt or not a safetensors file");
  EXPECT_EQ(error_of(length_bytes(100'000'001)),
            "header length 100000001 (bytes 0-7) is over the limit of 100000000 bytes: the file "
            "is corrupt or not a safetensors file");
}

TEST(CheckpointMalformed, NotAJsonObject) {
  const std::string expected_start =
      "the header (from byte 8) must be a JSON object mapping tensor names to {\"dtype\", "
      "\"shape\", \"data_offsets\"}, starting with '{'; ";
  EXPECT_EQ(error_of(st("")), expected_start + "it is empty");
  EXPECT_EQ(error_of(st("[]")), expected_start + "it starts with '['");
  EXPECT_EQ(error_of(st("\"a\"")), expected_start + "it starts with '\"'");
  EXPECT_EQ(error_of(st(" {}")), expected_start + "it starts with ' '");
  EXPECT_EQ(error_of(st("\xef\xbb\xbf{}")), expected_start + "it starts with '\\xef'");
}

TEST(CheckpointMalformed, InvalidJsonGivesTheBytePosition) {
  // The offending byte's position in the file: 8 + its index in the header.
  EXPECT_THAT(error_of(st(R"({"a" 1})")),
              StartsWith("malformed JSON header at byte 13: syntax error while parsing object "
                         "separator"));
  EXPECT_THAT(error_of(st(R"({"a":)")),
              StartsWith("malformed JSON header at byte 13: syntax error while parsing value - "
                         "unexpected end of input"));
  EXPECT_THAT(error_of(st("{}x")),
              StartsWith("malformed JSON header at byte 10: syntax error while parsing value - "
                         "invalid literal"));
  EXPECT_THAT(error_of(st("{} {}")), StartsWith("malformed JSON header at byte 11: "));
  // nlohmann's reader would take a NUL byte for the end of the input and ignore what follows.
  EXPECT_EQ(error_of(st(std::string("{}\0\0", 4))),
            "malformed JSON header at byte 10: a NUL byte (a header holds JSON text and spaces)");
  EXPECT_EQ(error_of(st(std::string("{\"a\0\":1}", 7))),
            "malformed JSON header at byte 11: a NUL byte (a header holds JSON text and spaces)");
  // Invalid UTF-8 in a name; the message shows bytes, never raw.
  std::string m = error_of(st("{\"a\xff\":1}"));
  EXPECT_EQ(m, "malformed JSON header at byte 11: syntax error while parsing object key - invalid "
               "string: ill-formed UTF-8 byte; last read: '\"a\\xff'; expected string literal");
  EXPECT_EQ(m.find('\xff'), std::string::npos) << m;
}

TEST(CheckpointMalformed, Entries) {
  EXPECT_EQ(error_of(st(R"({"a":1})")),
            "the entry of tensor 'a' is a JSON number 1, not an object with \"dtype\", \"shape\" "
            "and \"data_offsets\"");
  EXPECT_EQ(error_of(st(R"({"a":[]})")),
            "the entry of tensor 'a' is a JSON array, not an object with \"dtype\", \"shape\" and "
            "\"data_offsets\"");
  EXPECT_EQ(error_of(st(R"({"a":null})")),
            "the entry of tensor 'a' is a JSON null, not an object with \"dtype\", \"shape\" "
            "and \"data_offsets\"");
  EXPECT_EQ(error_of(st(R"({"a":{}})")),
            "tensor 'a' has no \"dtype\" or \"shape\" or \"data_offsets\"; an entry needs "
            "\"dtype\", \"shape\" and \"data_offsets\"");
  EXPECT_EQ(error_of(st(R"({"a":{"dtype":"F32","shape":[]}})")),
            "tensor 'a' has no \"data_offsets\"; an entry needs \"dtype\", \"shape\" and "
            "\"data_offsets\"");
  EXPECT_EQ(
      error_of(st(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"x":1}})", kF32One)),
      "tensor 'a' has an unexpected key 'x'; an entry has exactly \"dtype\", \"shape\" and "
      "\"data_offsets\"");
}

TEST(CheckpointMalformed, Dtypes) {
  EXPECT_EQ(error_of(st(R"({"a":{"dtype":"BF16","shape":[1],"data_offsets":[0,2]}})", "xx")),
            "tensor 'a' has unsupported dtype \"BF16\" (supported: F32, F64, I32, I64, BOOL)");
  EXPECT_EQ(error_of(st(R"({"a":{"dtype":"f32","shape":[1],"data_offsets":[0,4]}})", kF32One)),
            "tensor 'a' has unsupported dtype \"f32\" (supported: F32, F64, I32, I64, BOOL)");
  EXPECT_EQ(error_of(st(R"({"a":{"dtype":4,"shape":[1],"data_offsets":[0,4]}})", kF32One)),
            "the \"dtype\" of tensor 'a' is a JSON number 4, not a string such as \"F32\"");
  EXPECT_EQ(error_of(st(R"({"a":{"dtype":["F32"],"shape":[1],"data_offsets":[0,4]}})", kF32One)),
            "the \"dtype\" of tensor 'a' is a JSON array, not a string such as \"F32\"");
}

TEST(CheckpointMalformed, Shapes) {
  auto with_shape = [](std::string_view shape) {
    return error_of(
        st(fmt::format(R"({{"a":{{"dtype":"F32","shape":{},"data_offsets":[0,4]}}}})", shape),
           kF32One));
  };
  EXPECT_EQ(with_shape("[-1]"),
            "the \"shape\" of tensor 'a' must hold non-negative integers; dimension 0 is -1");
  EXPECT_EQ(with_shape("[1,2.5]"),
            "the \"shape\" of tensor 'a' must hold non-negative integers; dimension 1 is 2.5");
  EXPECT_EQ(with_shape("[1.0]"),
            "the \"shape\" of tensor 'a' must hold non-negative integers; dimension 0 is 1.0");
  EXPECT_EQ(with_shape("[\"1\"]"), "the \"shape\" of tensor 'a' must hold non-negative integers; "
                                   "dimension 0 is a JSON string \"1\"");
  EXPECT_EQ(with_shape("[true]"), "the \"shape\" of tensor 'a' must hold non-negative integers; "
                                  "dimension 0 is a JSON boolean true");
  EXPECT_EQ(with_shape("[[1]]"), "the \"shape\" of tensor 'a' must hold non-negative integers; "
                                 "dimension 0 is a JSON array");
  EXPECT_EQ(with_shape("[1,{}]"), "the \"shape\" of tensor 'a' must hold non-negative integers; "
                                  "dimension 1 is a JSON object");
  EXPECT_EQ(with_shape("[1,1,1,1,1,1,1]"),
            "the \"shape\" of tensor 'a' has more than 6 dimensions (stepjit's maximum rank)");
  EXPECT_EQ(with_shape("[2199023255553]"),
            "the \"shape\" of tensor 'a' has more than 2^40 elements (dimension 0 is "
            "2199023255553)");
  EXPECT_EQ(with_shape("[18446744073709551615]"),
            "the \"shape\" of tensor 'a' has more than 2^40 elements (dimension 0 is "
            "18446744073709551615)");
  EXPECT_EQ(with_shape("[18446744073709551616]"),
            "the \"shape\" of tensor 'a' must hold non-negative integers; dimension 0 is "
            "18446744073709551616");
  EXPECT_EQ(with_shape("[1048576,1048576,2]"),
            "the shape [1048576,1048576,2] of tensor 'a' has more than 2^40 elements");
  EXPECT_EQ(with_shape("3"), "the \"shape\" of tensor 'a' is a JSON number 3, not an array of "
                             "dimensions such as [2, 3]");
  EXPECT_EQ(with_shape("{}"), "the \"shape\" of tensor 'a' is a JSON object, not an array of "
                              "dimensions such as [2, 3]");
  // A million nested arrays stop at the first.
  EXPECT_EQ(with_shape(std::string(1'000'000, '[')),
            "the \"shape\" of tensor 'a' must hold non-negative integers; dimension 0 is a JSON "
            "array");
}

TEST(CheckpointMalformed, DataOffsets) {
  auto with_offsets = [](std::string_view offsets, std::string_view data = kF32One) {
    return error_of(st(
        fmt::format(R"({{"a":{{"dtype":"F32","shape":[1],"data_offsets":{}}}}})", offsets), data));
  };
  EXPECT_EQ(with_offsets("[0]"),
            "the \"data_offsets\" of tensor 'a' must be two integers [begin, end]; it has 1 "
            "element");
  EXPECT_EQ(with_offsets("[]"),
            "the \"data_offsets\" of tensor 'a' must be two integers [begin, end]; it has 0 "
            "elements");
  EXPECT_EQ(with_offsets("[0,4,8]"),
            "the \"data_offsets\" of tensor 'a' must be two integers [begin, end]; it has more "
            "than 2 elements");
  EXPECT_EQ(with_offsets("[-1,3]"), "the \"data_offsets\" of tensor 'a' must be two non-negative "
                                    "integers [begin, end]; element 0 is -1");
  EXPECT_EQ(with_offsets("[0,4.0]"), "the \"data_offsets\" of tensor 'a' must be two "
                                     "non-negative integers [begin, end]; element 1 is 4.0");
  EXPECT_EQ(with_offsets("[0,\"4\"]"),
            "the \"data_offsets\" of tensor 'a' must be two non-negative integers [begin, end]; "
            "element 1 is a JSON string \"4\"");
  EXPECT_EQ(with_offsets("[[0],4]"),
            "the \"data_offsets\" of tensor 'a' must be two non-negative integers [begin, end]; "
            "element 0 is a JSON array");
  EXPECT_EQ(with_offsets("\"0,4\""), "the \"data_offsets\" of tensor 'a' is a JSON string "
                                     "\"0,4\", not two integers [begin, end]");
  EXPECT_EQ(with_offsets("[4,0]"),
            "the data_offsets [4, 0] of tensor 'a' decrease: the end is before the beginning");
  EXPECT_EQ(with_offsets("[0,8]", kF32One + kF32One),
            "tensor 'a' is f32[1] (4 bytes), but its data_offsets [0, 8] span 8 bytes");
  EXPECT_EQ(with_offsets("[0,3]"),
            "tensor 'a' is f32[1] (4 bytes), but its data_offsets [0, 3] span 3 bytes");
  EXPECT_EQ(with_offsets("[0,4]", "xx"),
            "the data_offsets [0, 4] of tensor 'a' run past the end of the file: the data section "
            "has 2 bytes (from byte 62)");
  EXPECT_EQ(with_offsets("[18446744073709551612,18446744073709551615]"),
            "tensor 'a' is f32[1] (4 bytes), but its data_offsets [18446744073709551612, "
            "18446744073709551615] span 3 bytes");
  EXPECT_EQ(with_offsets("[18446744073709551611,18446744073709551615]"),
            "the data_offsets [18446744073709551611, 18446744073709551615] of tensor 'a' run past "
            "the end of the file: the data section has 4 bytes (from byte 100)");
}

TEST(CheckpointMalformed, OverlapsHolesAndTrailingBytes) {
  std::string two = kF32One + kF32One;
  EXPECT_EQ(
      error_of(st("{" + entry("a", "F32", "[1]", 0, 4) + "," + entry("b", "F32", "[1]", 2, 6) + "}",
                  two)),
      "the data of tensors 'a' [0, 4] and 'b' [2, 6] overlap");
  EXPECT_EQ(
      error_of(st("{" + entry("a", "F32", "[1]", 0, 4) + "," + entry("b", "F32", "[1]", 0, 4) + "}",
                  kF32One)),
      "the data of tensors 'a' [0, 4] and 'b' [0, 4] overlap");
  // An empty tensor inside another's bytes overlaps it too.
  EXPECT_EQ(
      error_of(st("{" + entry("a", "F32", "[1]", 0, 4) + "," + entry("e", "F32", "[0]", 2, 2) + "}",
                  kF32One)),
      "the data of tensors 'a' [0, 4] and 'e' [2, 2] overlap");
  EXPECT_EQ(error_of(st("{" + entry("a", "F32", "[1]", 0, 4) + "," +
                            entry("b", "F32", "[1]", 8, 12) + "}",
                        two + kF32One)),
            "bytes [4, 8) of the data section (between tensors 'a' and 'b') belong to no tensor: "
            "the format requires the tensors to cover the data without holes");
  EXPECT_EQ(error_of(st("{" + entry("b", "F32", "[1]", 4, 8) + "}", two)),
            "bytes [0, 4) of the data section (before tensor 'b') belong to no tensor: the format "
            "requires the tensors to cover the data without holes");
  EXPECT_EQ(error_of(st("{" + kA + "}", kF32One + "xy")),
            "2 extra bytes after the data of the last tensor: the tensors end at byte 66, the file "
            "has 68 bytes");
  EXPECT_EQ(error_of(st("{}      ", "z")),
            "1 extra byte after the data of the last tensor: the tensors end at byte 16, the file "
            "has 17 bytes");
}

TEST(CheckpointMalformed, DuplicateKeys) {
  EXPECT_EQ(error_of(st("{" + kA + "," + kA + "}", kF32One)),
            "duplicate key 'a' in the header (a JSON reader would keep only one of them)");
  EXPECT_EQ(error_of(st(R"({"a":{"dtype":"F32","dtype":"F32","shape":[1],"data_offsets":[0,4]}})",
                        kF32One)),
            "duplicate key 'dtype' in the entry of tensor 'a'");
  EXPECT_EQ(error_of(st(R"({"__metadata__":{"k":"1","k":"2"}})")),
            "duplicate key 'k' in \"__metadata__\"");
  EXPECT_EQ(error_of(st(R"({"__metadata__":{},"__metadata__":{}})")),
            "duplicate key '__metadata__' in the header (a JSON reader would keep only one of "
            "them)");
  // The same name spelled with an escape is the same key.
  EXPECT_EQ(
      error_of(st("{" + kA + "," + entry("\\u0061", "F32", "[1]", 4, 8) + "}", kF32One + kF32One)),
      "duplicate key 'a' in the header (a JSON reader would keep only one of them)");
}

TEST(CheckpointMalformed, Metadata) {
  EXPECT_EQ(error_of(st(R"({"__metadata__":5})")),
            "\"__metadata__\" is a JSON number 5, not an object of strings");
  EXPECT_EQ(error_of(st(R"({"__metadata__":["a"]})")),
            "\"__metadata__\" is a JSON array, not an object of strings");
  EXPECT_EQ(error_of(st(R"({"__metadata__":true})")),
            "\"__metadata__\" is a JSON boolean true, not an object of strings");
  EXPECT_EQ(error_of(st(R"({"__metadata__":{"k":null}})")),
            "\"__metadata__\" value 'k' is a JSON null, not a string");
  EXPECT_EQ(error_of(st(R"({"__metadata__":{"k":1}})")),
            "\"__metadata__\" value 'k' is a JSON number 1, not a string");
  EXPECT_EQ(error_of(st(R"({"__metadata__":{"k":{"x":"y"}}})")),
            "\"__metadata__\" value 'k' is a JSON object, not a string");
  EXPECT_EQ(error_of(st(R"({"__metadata__":{"k":[]}})")),
            "\"__metadata__\" value 'k' is a JSON array, not a string");
  // null is what the reference writes for "no metadata".
  Safetensors s = parse_safetensors(to_bytes(st(R"({"__metadata__":null})")), "null.safetensors");
  EXPECT_TRUE(s.metadata.empty());
}

TEST(CheckpointMalformed, BoolBytes) {
  EXPECT_EQ(error_of(st(R"({"m":{"dtype":"BOOL","shape":[3],"data_offsets":[0,3]}})",
                        std::string("\x01\x00\x02", 3))),
            "bool element 2 of tensor 'm' (byte 65) is 0x02; a bool must be 0 or 1");
  EXPECT_EQ(error_of(st(R"({"m":{"dtype":"BOOL","shape":[1],"data_offsets":[0,1]}})", "\xff")),
            "bool element 0 of tensor 'm' (byte 63) is 0xff; a bool must be 0 or 1");
}

TEST(CheckpointMalformed, NamesInMessagesAreEscaped) {
  EXPECT_EQ(error_of(st(R"({"a\nb'\u00e9":1})")),
            "the entry of tensor 'a\\x0ab\\x27\\xc3\\xa9' is a JSON number 1, not an object with "
            "\"dtype\", \"shape\" and \"data_offsets\"");
  std::string long_name(500, 'n');
  std::string m = error_of(st("{\"" + long_name + "\":1}"));
  EXPECT_THAT(m, HasSubstr("'" + std::string(80, 'n') + "...'"));
  EXPECT_LT(m.size(), 200u);
}

// Files other writers may produce: any order, any whitespace, empty tensors sharing offsets.
TEST(CheckpointParse, AcceptsWhatTheFormatAllows) {
  std::string header =
      "{\n  " + entry("b", "I32", "[2]", 4, 12) + ",\n  " + entry("a", "F32", "[1]", 0, 4) +
      ",\n  " + entry("e", "F64", "[0, 3]", 4, 4) + ",\n  " + entry("z", "BOOL", "[0]", 12, 12) +
      ",\n  \"__metadata__\": {\"format\": \"pt\"}\n}\n";
  Safetensors s = parse_safetensors(
      to_bytes(st(header, kF32One + raw(std::vector<int32_t>{-7, 9}))), "ok.safetensors");
  ASSERT_EQ(s.tensors.size(), 4u);
  EXPECT_EQ(s.tensors.at("a"), Tensor::from<float>({1}, {1.5f}));
  EXPECT_EQ(s.tensors.at("b"), Tensor::from<int32_t>({2}, {-7, 9}));
  EXPECT_EQ(s.tensors.at("e"), Tensor({DType::f64, {0, 3}}));
  EXPECT_EQ(s.tensors.at("z"), Tensor({DType::boolean, {0}}));
  EXPECT_EQ(s.metadata, (CheckpointMetadata{{"format", "pt"}}));
  // Names need not be stepjit names.
  Safetensors odd = parse_safetensors(
      to_bytes(st("{" + entry("", "F32", "[1]", 0, 4) + "}", kF32One)), "odd.safetensors");
  EXPECT_EQ(odd.tensors.count(""), 1u);
}

// ---------------------------------------------------------------------------------------------
// Fuzzing: every truncation and random mutations of a valid file load or throw sj::Error.

std::vector<std::byte> fuzz_seed_file() {
  return serialize_safetensors({{"f", sample(DType::f32, {2, 3}, 1)},
                                {"d", sample(DType::f64, {2}, 2)},
                                {"i", sample(DType::i32, {3}, 3)},
                                {"l", sample(DType::i64, {}, 4)},
                                {"m", sample(DType::boolean, {5}, 5)},
                                {"e", Tensor({DType::f32, {0}})}},
                               {{"step", "12"}});
}

TEST(CheckpointFuzz, EveryTruncationIsAnError) {
  std::vector<std::byte> file = fuzz_seed_file();
  EXPECT_EQ(parse_safetensors(file, "whole").tensors.size(), 6u);
  for (size_t n = 0; n < file.size(); ++n) {
    std::vector<std::byte> cut(file.begin(), file.begin() + static_cast<ptrdiff_t>(n));
    try {
      parse_safetensors(cut, "cut");
      ADD_FAILURE() << "a file cut to " << n << " bytes parsed";
    } catch (const Error&) {
    } catch (const std::exception& e) {
      ADD_FAILURE() << "not an sj::Error at " << n << ": " << e.what();
    }
  }
}

TEST(CheckpointFuzz, RandomByteMutationsLoadOrError) {
  std::vector<std::byte> file = fuzz_seed_file();
  std::mt19937 rng(1234);
  for (int i = 0; i < 20000; ++i) {
    std::vector<std::byte> m = file;
    size_t at = rng() % m.size();
    // Half the time a random byte, else a byte JSON cares about.
    const char interesting[] = "{}[]\",:0123456789-.e \\un";
    m[at] = std::byte(i % 2 ? static_cast<unsigned char>(rng())
                            : static_cast<unsigned char>(interesting[rng() % 24]));
    parses_or_errors(m);
    if (HasFailure()) return;
  }
  // Mutations of the length field in particular.
  for (int i = 0; i < 8; ++i)
    for (int v = 0; v < 256; ++v) {
      std::vector<std::byte> m = file;
      m[static_cast<size_t>(i)] = std::byte(v);
      parses_or_errors(m);
    }
}

TEST_F(CheckpointFiles, TruncatedFilesOnDiskAreErrors) {
  std::vector<std::byte> file = fuzz_seed_file();
  Variables none(Graph("none"));
  for (size_t n = 0; n < file.size(); n += 7) {
    write_raw("cut.safetensors", to_string(std::span(file).first(n)));
    EXPECT_THROW(read_safetensors(path("cut.safetensors")), Error) << n;
    EXPECT_THROW(load_checkpoint(path("cut.safetensors"), none, {.partial = true}), Error) << n;
  }
}

// ---------------------------------------------------------------------------------------------
// Files: errors name the path; saves are atomic.

TEST_F(CheckpointFiles, ReadErrorsNameThePath) {
  std::string missing = path("missing.safetensors");
  try {
    read_safetensors(missing);
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_EQ(e.location().file, missing);
    EXPECT_EQ(e.message(), "cannot open for reading: No such file or directory");
  }
  try {
    read_safetensors_metadata(dir_.string());
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_EQ(e.message(), "not a regular file");
  }
  ASSERT_EQ(::mkfifo(path("fifo").c_str(), 0600), 0);
  Variables none(Graph("none"));
  try {
    load_checkpoint(path("fifo"), none); // must not hang waiting for a writer
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_EQ(e.message(), "not a regular file");
  }
}

TEST_F(CheckpointFiles, SaveReplacesAnExistingFileAndFollowsSymlinks) {
  Graph g = dense_model();
  Variables vars(g);
  write_raw("real.safetensors", std::string(10000, 'x'));
  fs::create_symlink("real.safetensors", path("link.safetensors"));
  save_checkpoint(path("link.safetensors"), vars);
  EXPECT_TRUE(fs::is_symlink(path("link.safetensors")));
  EXPECT_EQ(read_raw("real.safetensors"), to_string(serialize_safetensors(vars.all())));
  EXPECT_EQ(entries(), (std::vector<std::string>{"link.safetensors", "real.safetensors"}));
}

// Issue 11 row 10: `train --save` over a checkpoint of mode 600 made it 644, and saving through
// a dangling symlink replaced the link by a regular file.
TEST_F(CheckpointFiles, SaveKeepsTheReplacedFilesModeAndFollowsADanglingSymlink) {
  Graph g = dense_model();
  Variables vars(g);
  save_checkpoint(path("ckpt.safetensors"), vars);
  ASSERT_EQ(::chmod(path("ckpt.safetensors").c_str(), 0600), 0);
  vars.set("adam/step", Tensor::scalar(int64_t{2}));
  save_checkpoint(path("ckpt.safetensors"), vars);
  struct stat st;
  ASSERT_EQ(::stat(path("ckpt.safetensors").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  EXPECT_EQ(read_raw("ckpt.safetensors"), to_string(serialize_safetensors(vars.all())));

  fs::create_directory(path("runs"));
  fs::create_symlink("runs/step_2.safetensors", path("latest.safetensors"));
  save_checkpoint(path("latest.safetensors"), vars);
  EXPECT_TRUE(fs::is_symlink(path("latest.safetensors")));
  EXPECT_EQ(read_raw("runs/step_2.safetensors"), to_string(serialize_safetensors(vars.all())));
  EXPECT_EQ(entries(),
            (std::vector<std::string>{"ckpt.safetensors", "latest.safetensors", "runs"}));
}

// Issue 11 row 16: a save killed mid-write left `ckpt.safetensors.tmp.PID.N` behind for good.
// (tests/runtime/crash_safety_test.cpp kills real saves; here the leftover is made by hand.)
TEST_F(CheckpointFiles, TheNextSaveRemovesAKilledSavesTemporary) {
  Graph g = dense_model();
  Variables vars(g);
  save_checkpoint(path("ckpt.safetensors"), vars);
  pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  ASSERT_EQ(::waitpid(child, nullptr, 0), child); // its pid is now no live process
  std::string leftover = fmt::format("ckpt.safetensors.tmp.{}.0", child);
  write_raw(leftover, std::string(5000, 'x'));
  save_checkpoint(path("ckpt.safetensors"), vars);
  EXPECT_EQ(entries(), std::vector<std::string>{"ckpt.safetensors"});
}

TEST_F(CheckpointFiles, SaveErrorsLeaveNothingBehind) {
  Graph g = dense_model();
  Variables vars(g);
  std::string in_missing_dir = path("no/such/dir/x.safetensors");
  try {
    save_checkpoint(in_missing_dir, vars);
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_EQ(e.location().file, in_missing_dir);
    EXPECT_THAT(e.message(), HasSubstr("cannot create the temporary file"));
    EXPECT_THAT(e.message(), HasSubstr("No such file or directory"));
  }
  fs::create_directory(path("taken.safetensors"));
  try {
    save_checkpoint(path("taken.safetensors"), vars);
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_EQ(e.message(), "exists and is not a regular file; not replacing it");
  }
  try {
    save_checkpoint(path("md.safetensors"), vars, {{"k", "bad \xff"}});
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_EQ(e.message(), "the metadata value of key 'k' is not valid UTF-8");
  }
  try {
    write_safetensors(path("md.safetensors"), {{"\xc3", Tensor::scalar(1.f)}});
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_EQ(e.message(), "the tensor name '\\xc3' is not valid UTF-8");
  }
  Graph reserved("reserved");
  variable(reserved, "__metadata__", {DType::f32, {}});
  try {
    save_checkpoint(path("r.safetensors"), Variables(reserved));
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_EQ(e.message(), "a tensor cannot be named '__metadata__': the format reserves that key "
                           "for the metadata");
  }
  EXPECT_EQ(entries(), std::vector<std::string>{"taken.safetensors"});
}

// A file size limit makes write() fail part way, as a full disk does.
TEST_F(CheckpointFiles, FailedSaveLeavesTheOldCheckpointAndNoTemporary) {
  Graph small("small");
  variable(small, "w", {DType::f32, {2}}, Init::ones());
  save_checkpoint(path("ckpt.safetensors"), Variables(small));
  std::string old_bytes = read_raw("ckpt.safetensors");

  Graph big("big");
  variable(big, "w", {DType::f32, {1000}}, Init::ones());
  Variables big_vars(big);
  struct rlimit saved;
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &saved), 0);
  auto saved_handler = std::signal(SIGXFSZ, SIG_IGN);
  struct rlimit limit = saved;
  limit.rlim_cur = 1000;
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &limit), 0);
  std::string message;
  try {
    save_checkpoint(path("ckpt.safetensors"), big_vars);
  } catch (const Error& e) {
    message = e.message();
    EXPECT_EQ(e.location().file, path("ckpt.safetensors"));
  }
  ::setrlimit(RLIMIT_FSIZE, &saved);
  std::signal(SIGXFSZ, saved_handler);
  EXPECT_THAT(message, HasSubstr("cannot write"));
  EXPECT_THAT(message, HasSubstr("File too large"));
  EXPECT_EQ(read_raw("ckpt.safetensors"), old_bytes);
  EXPECT_EQ(entries(), std::vector<std::string>{"ckpt.safetensors"});
}

TEST_F(CheckpointFiles, SaveIntoReadOnlyDirectory) {
  if (::geteuid() == 0) GTEST_SKIP() << "root ignores directory permissions";
  fs::create_directory(path("ro"));
  Graph g = dense_model();
  Variables vars(g);
  save_checkpoint(path("ro/x.safetensors"), vars);
  std::string old_bytes = read_raw("ro/x.safetensors");
  fs::permissions(path("ro"), fs::perms::owner_read | fs::perms::owner_exec);
  vars.set("adam/step", Tensor::scalar(int64_t{9}));
  try {
    save_checkpoint(path("ro/x.safetensors"), vars);
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_THAT(e.message(), HasSubstr("Permission denied"));
  }
  fs::permissions(path("ro"), fs::perms::owner_all);
  EXPECT_EQ(read_raw("ro/x.safetensors"), old_bytes);
  EXPECT_EQ(std::distance(fs::directory_iterator(path("ro")), fs::directory_iterator()), 1);
}

} // namespace
} // namespace sj

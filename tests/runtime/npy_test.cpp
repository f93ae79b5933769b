#include "runtime/npy.h"
#include "tests/support/untrusted_files.h"

#include <cmath>
#include <csignal>
#include <filesystem>
#include <fmt/format.h>
#include <fstream>
#include <gtest/gtest.h>
#include <limits>
#include <random>
#include <string>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

namespace sj {
namespace {

namespace fs = std::filesystem;

using test::to_bytes;
using test::to_string;

// A .npy file by hand: magic, version, header length, `header` as is, then `data`.
std::string npy_raw(const std::string& header, std::string_view data, int major) {
  std::string out = "\x93NUMPY";
  out += static_cast<char>(major);
  out += '\0';
  size_t len_size = major == 1 ? 2 : 4;
  for (size_t i = 0; i < len_size; ++i)
    out += static_cast<char>((header.size() >> (8 * i)) & 0xff);
  return out + header + std::string(data);
}

// The same with `dict` and '\n' as the header: no alignment padding, which readers must not
// require.
std::string npy(std::string_view dict, std::string_view data = {}, int major = 1) {
  return npy_raw(std::string(dict) + "\n", data, major);
}

template <typename T>
std::string raw(const std::vector<T>& values) {
  return {reinterpret_cast<const char*>(values.data()), values.size() * sizeof(T)};
}

const std::string kF32x6 = raw(std::vector<float>{0, 1, 2, 3, 4, 5});

// The message of the sj::Error that parsing `file` throws; a failure if it throws nothing.
std::string error_of(const std::string& file) {
  return test::file_error_of(parse_npy, file, "bad.npy");
}

// Parsing must give a result or an sj::Error: nothing else, and never a crash.
void parses_or_errors(const std::vector<std::byte>& file) {
  test::parses_or_errors(parse_npy, file, "fuzz.npy");
}

Tensor sample(DType dtype, const Shape& shape, uint32_t seed) {
  return test::sample_with_specials(dtype, shape, seed);
}

const std::vector<Shape> kShapes = {
    {},
    {7},
    {0},
    {3, 4},
    {4, 0},
    {2, 3, 4},
    {2, 0, 3},
    {1, 2, 3, 2},
    {3, 1, 2, 1, 2},
    {2, 1, 2, 1, 3, 2},
    {1, 2, 0, 2, 1, 1},
};

class NpyFiles : public testing::Test {
protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           fmt::format("sj_npy_test_{}_{}", ::getpid(),
                       testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  void write_raw(const std::string& name, const std::string& bytes) const {
    std::ofstream(path(name), std::ios::binary) << bytes;
  }
  std::string read_raw(const std::string& name) const {
    std::ifstream in(path(name), std::ios::binary);
    return {std::istreambuf_iterator<char>(in), {}};
  }

  fs::path dir_;
};

// ---------------------------------------------------------------------------------------------
// Round trips

TEST(NpyRoundTrip, EveryDTypeAndRankInMemory) {
  int cases = 0;
  for (DType dtype : kAllDTypes) {
    for (const Shape& shape : kShapes) {
      SCOPED_TRACE((TensorType{dtype, shape}.str()));
      Tensor t = sample(dtype, shape, static_cast<uint32_t>(++cases));
      std::vector<std::byte> bytes = serialize_npy(t);
      size_t data_offset = bytes.size() - t.bytes().size();
      EXPECT_EQ(data_offset % 64, 0u);
      EXPECT_EQ(std::to_integer<char>(bytes[data_offset - 1]), '\n');
      Tensor back = parse_npy(bytes, "t.npy");
      EXPECT_EQ(back.type(), t.type());
      EXPECT_TRUE(back == t);
    }
  }
  EXPECT_EQ(cases, 5 * 11);
}

TEST_F(NpyFiles, EveryDTypeAndRankThroughFiles) {
  uint32_t seed = 100;
  for (DType dtype : kAllDTypes) {
    for (const Shape& shape : kShapes) {
      SCOPED_TRACE((TensorType{dtype, shape}.str()));
      Tensor t = sample(dtype, shape, ++seed);
      std::string p = path("t.npy");
      write_npy(p, t);
      EXPECT_EQ(to_bytes(read_raw("t.npy")), serialize_npy(t));
      EXPECT_TRUE(read_npy(p) == t);
    }
  }
  // Overwrites replaced the file each time and left no temporary behind.
  int files = 0;
  for ([[maybe_unused]] auto& e : fs::directory_iterator(dir_))
    ++files;
  EXPECT_EQ(files, 1);
}

// ---------------------------------------------------------------------------------------------
// The header is byte for byte what np.save writes (NumPy >= 1.24: 64-byte alignment and room
// for the first axis to grow to 21 digits).

TEST(NpyHeader, F32Matrix) {
  Tensor t = Tensor::from<float>({2, 3}, {0, 1, 2, 3, 4, 5});
  // 10 bytes of preamble, the 59-byte dict, spaces to byte 126, '\n' at 127; 'v' = 118.
  std::string expected = std::string("\x93NUMPY\x01\x00v\x00", 10) +
                         "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }" +
                         std::string(58, ' ') + "\n" + kF32x6;
  ASSERT_EQ(expected.size(), 128u + 24u);
  EXPECT_EQ(to_string(serialize_npy(t)), expected);
}

TEST(NpyHeader, I64Vector) {
  Tensor t = Tensor::from<int64_t>({5}, {1, -2, 3, -4, 5});
  std::string expected = std::string("\x93NUMPY\x01\x00v\x00", 10) +
                         "{'descr': '<i8', 'fortran_order': False, 'shape': (5,), }" +
                         std::string(60, ' ') + "\n" + raw(std::vector<int64_t>{1, -2, 3, -4, 5});
  EXPECT_EQ(to_string(serialize_npy(t)), expected);
}

TEST(NpyHeader, BoolScalarAndOtherDescrs) {
  std::string expected = std::string("\x93NUMPY\x01\x00v\x00", 10) +
                         "{'descr': '|b1', 'fortran_order': False, 'shape': (), }" +
                         std::string(62, ' ') + "\n\x01";
  EXPECT_EQ(to_string(serialize_npy(Tensor::from_bool({}, {true}))), expected);
  auto dict_of = [](const Tensor& t) { return to_string(serialize_npy(t)).substr(10, 16); };
  EXPECT_EQ(dict_of(Tensor::scalar(1.0)), "{'descr': '<f8',");
  EXPECT_EQ(dict_of(Tensor::scalar(int32_t{1})), "{'descr': '<i4',");
}

TEST(NpyHeader, GrowthRoomPushesPastA64ByteBoundary) {
  // The 98-byte dict fits in 128 bytes, but not with 20 spaces of growth room: 192 bytes,
  // header length 182 = 0xb6.
  Tensor t({DType::f64, {0, 100000000000, 100000000000, 100000000000}});
  std::string expected =
      std::string("\x93NUMPY\x01\x00\xb6\x00", 10) +
      "{'descr': '<f8', 'fortran_order': False, 'shape': (0, 100000000000, 100000000000, "
      "100000000000), }" +
      std::string(83, ' ') + "\n";
  EXPECT_EQ(to_string(serialize_npy(t)), expected);
}

TEST(NpyHeader, AlignedHeaderStillGetsAFullPad) {
  // 10 + 97-byte dict + 20 growth spaces + '\n' = 128 exactly; NumPy then pads 64 more.
  Tensor t({DType::f64, {0, 100000000000, 100000000000, 10000000000}});
  std::string expected =
      std::string("\x93NUMPY\x01\x00\xb6\x00", 10) +
      "{'descr': '<f8', 'fortran_order': False, 'shape': (0, 100000000000, 100000000000, "
      "10000000000), }" +
      std::string(84, ' ') + "\n";
  EXPECT_EQ(to_string(serialize_npy(t)), expected);
}

// ---------------------------------------------------------------------------------------------
// Reading headers other writers produce

Tensor parse(const std::string& file) { return parse_npy(to_bytes(file), "ok.npy"); }

TEST(NpyRead, HeaderSpellings) {
  Tensor expected = Tensor::from<float>({2, 3}, {0, 1, 2, 3, 4, 5});
  for (std::string dict : {
           "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }",
           "{\"descr\": \"<f4\", \"fortran_order\": False, \"shape\": (2, 3)}",
           "{'shape': (2, 3), 'descr': '<f4', 'fortran_order': False}",
           "{'fortran_order':False,'shape':(2,3,),'descr':'<f4',}",
           "  {\n\t'descr' : '=f4' ,\r\n 'fortran_order' : False ,\n 'shape' : ( 2 , 3 ) ,\n}  ",
           "{'descr': 'f4', 'fortran_order': False, 'shape': (2, 3)}",
       }) {
    SCOPED_TRACE(dict);
    EXPECT_TRUE(parse(npy(dict, kF32x6)) == expected);
  }
}

TEST(NpyRead, VersionsAndPadding) {
  Tensor expected = Tensor::from<float>({2, 3}, {0, 1, 2, 3, 4, 5});
  std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
  for (int major : {1, 2, 3}) {
    SCOPED_TRACE(major);
    EXPECT_TRUE(parse(npy(dict, kF32x6, major)) == expected);
    // Lots of padding, or no '\n' at the end of the header: both fine.
    EXPECT_TRUE(parse(npy(dict + std::string(1000, ' '), kF32x6, major)) == expected);
    EXPECT_TRUE(parse(npy_raw(dict, kF32x6, major)) == expected);
  }
}

TEST(NpyRead, OtherDescrSpellings) {
  Tensor bools = Tensor::from_bool({3}, {true, false, true});
  for (std::string descr : {"|b1", "?", "<b1", "=?", "b1"})
    EXPECT_TRUE(parse(npy("{'descr': '" + descr + "', 'fortran_order': False, 'shape': (3,)}",
                          std::string("\x01\x00\x01", 3))) == bools)
        << descr;
  EXPECT_TRUE(parse(npy("{'descr': '=i8', 'fortran_order': False, 'shape': (1,)}",
                        raw(std::vector<int64_t>{-7}))) == Tensor::from<int64_t>({1}, {-7}));
  EXPECT_TRUE(parse(npy("{'descr': '<i4', 'fortran_order': False, 'shape': ()}",
                        raw(std::vector<int32_t>{42}))) == Tensor::scalar(int32_t{42}));
  EXPECT_TRUE(parse(npy("{'descr': '<f8', 'fortran_order': False, 'shape': (0, 5)}")) ==
              Tensor({DType::f64, {0, 5}}));
}

TEST(NpyRead, Python2LongSuffixInOldVersions) {
  std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2L, 3L), }";
  Tensor expected = Tensor::from<float>({2, 3}, {0, 1, 2, 3, 4, 5});
  EXPECT_TRUE(parse(npy(dict, kF32x6, 1)) == expected);
  EXPECT_TRUE(parse(npy(dict, kF32x6, 2)) == expected);
  EXPECT_NE(error_of(npy(dict, kF32x6, 3)).find("expected an integer dimension; found 'L'"),
            std::string::npos);
}

// ---------------------------------------------------------------------------------------------
// Bad files: each error says what is wrong.

struct BadCase {
  std::string what;
  std::string file;
  std::vector<std::string> message_has;
};

std::string with_shape(const std::string& shape, const std::string& data = "") {
  return npy("{'descr': '<f4', 'fortran_order': False, 'shape': " + shape + ", }", data);
}
std::string with_descr(const std::string& descr, const std::string& data = "") {
  return npy("{'descr': " + descr + ", 'fortran_order': False, 'shape': (0,), }", data);
}
std::string repeat(const std::string& s, int n) {
  std::string out;
  for (int i = 0; i < n; ++i)
    out += s;
  return out;
}
std::string with_dict(const std::string& dict) { return npy(dict); }

const std::string kValid =
    npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", kF32x6);

std::string with_byte(std::string s, size_t i, char c) {
  s[i] = c;
  return s;
}

std::vector<BadCase> bad_cases() {
  std::string v2 = std::string("\x93NUMPY\x02\x00", 8);
  return {
      {"empty", "", {"truncated .npy file: 0 bytes"}},
      {"magic", with_byte(kValid, 5, 'X'), {"not a .npy file: byte 5 is 0x58", "\\x93NUMPY"}},
      {"npz", "PK\x03\x04rest of a zip", {"not a .npy file: byte 0 is 0x50"}},
      {"short magic", "\x93NUM", {"truncated .npy file: 4 bytes"}},
      {"no length", std::string("\x93NUMPY\x01\x00\x10", 9), {"too short for the 2-byte header"}},
      {"v2 no length", v2 + "\x10", {"too short for the 4-byte header length"}},
      {"version 4.0",
       with_byte(kValid, 6, '\x04'),
       {"unsupported .npy format version 4.0 (supported: 1.0, 2.0, 3.0)"}},
      {"version 1.1", with_byte(kValid, 7, '\x01'), {"unsupported .npy format version 1.1"}},
      {"version 0.0", with_byte(kValid, 6, '\x00'), {"unsupported .npy format version 0.0"}},
      {"header past end",
       std::string("\x93NUMPY\x01\x00\xff\xff{}", 12),
       {"header length 65535 (at byte 8) runs past the end of the file",
        "would end at byte 65545, the file has 12 bytes"}},
      {"v2 header past end",
       v2 + "\xff\xff\xff\xff{}",
       {"header length 4294967295 (at byte 8) runs past the end"}},
      {"empty header",
       std::string("\x93NUMPY\x01\x00\x00\x00", 10),
       {"malformed .npy header at byte 10: the header must be a Python dict literal",
        "found the end of the header"}},
      {"not a dict", with_dict("[1, 2]"), {"byte 10: the header must be a Python dict", "'['"}},
      {"no closing brace",
       with_dict("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), "),
       {"expected a key in quotes; found the end of the header"}},
      {"unterminated", with_dict("{'descr': '<f4"), {"at byte 20: unterminated string"}},
      {"string across lines",
       with_dict("{'descr': '<f4\n', 'fortran_order': False}"),
       {"unterminated string"}},
      {"escape",
       with_dict("{'descr': '<\\x66\x34', 'fortran_order': False, 'shape': ()}"),
       {"escape sequences in strings are not supported"}},
      {"bare key",
       with_dict("{descr: '<f4'}"),
       {"at byte 11: expected a key in quotes; found 'd'"}},
      {"empty entry", with_dict("{,}"), {"expected a key in quotes; found ','"}},
      {"no colon", with_dict("{'descr' '<f4'}"), {"expected ':' after the key 'descr'"}},
      {"no comma",
       with_dict("{'descr': '<f4' 'fortran_order': False}"),
       {"expected ',' or '}' after the value of 'descr'; found '\\x27'"}},
      {"missing key",
       with_dict("{'descr': '<f4', 'fortran_order': False}"),
       {"the .npy header has no 'shape' key"}},
      {"missing descr", with_dict("{'fortran_order': False, 'shape': ()}"), {"has no 'descr' key"}},
      {"empty dict", with_dict("{}"), {"has no 'descr' key"}},
      {"duplicate key",
       with_dict("{'descr': '<f4', 'fortran_order': False, 'shape': (), 'descr': '<f8'}"),
       {"duplicate key 'descr'"}},
      {"unknown key",
       with_dict("{'descr': '<f4', 'fortran_order': False, 'shape': (), 'extra': 1}"),
       {"unexpected key 'extra'", "exactly the keys 'descr', 'fortran_order' and 'shape'"}},
      {"trailing text",
       with_dict("{'descr': '<f4', 'fortran_order': False, 'shape': ()} x"),
       {"unexpected text after the header dict; found 'x'"}},
      {"two dicts",
       with_dict("{'descr': '<f4', 'fortran_order': False, 'shape': ()}{}"),
       {"unexpected text after the header dict"}},
      {"nul byte", with_dict(std::string("{'descr'\0: '<f4'}", 17)), {"found '\\x00'"}},
      {"structured",
       with_descr("[('x', '<f4'), ('y', '<i4')]"),
       {"'descr' is a list: structured dtypes are not supported"}},
      {"descr not string", with_descr("5"), {"expected a string for 'descr' in quotes"}},
      {"unsupported descr",
       with_descr("'<u2'"),
       {"unsupported dtype '<u2'",
        "(supported: '<f4' (f32), '<f8' (f64), '<i4' (i32), '<i8' (i64), '|b1' (bool))"}},
      {"half", with_descr("'<f2'"), {"unsupported dtype '<f2'"}},
      {"object", with_descr("'|O'"), {"unsupported dtype '|O'"}},
      {"no order byte multibyte", with_descr("'|f4'"), {"unsupported dtype '|f4'"}},
      {"weird descr", with_descr("'\xff\x01'"), {"unsupported dtype '\\xff\\x01'"}},
      {"empty descr", with_descr("''"), {"unsupported dtype ''"}},
      {"big-endian",
       with_descr("'>f4'"),
       {"big-endian dtype '>f4' is not supported", "a.astype('<f4')"}},
      {"big-endian i8", with_descr("'>i8'"), {"big-endian dtype '>i8'"}},
      {"network order", with_descr("'!i4'"), {"big-endian dtype '!i4'"}},
      {"fortran True",
       npy("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", kF32x6),
       {"fortran_order is True", "Fortran-order", "not supported", "np.ascontiguousarray"}},
      {"fortran 0",
       npy("{'descr': '<f4', 'fortran_order': 0, 'shape': (2, 3), }", kF32x6),
       {"expected True or False for 'fortran_order'; found '0'"}},
      {"fortran lower",
       npy("{'descr': '<f4', 'fortran_order': false, 'shape': (), }", kF32x6),
       {"expected True or False"}},
      {"fortran Trueish",
       npy("{'descr': '<f4', 'fortran_order': Truex, 'shape': (), }"),
       {"expected True or False"}},
      {"shape list", with_shape("[2, 3]"), {"expected a tuple of integers such as (2, 3)"}},
      {"shape int", with_shape("6"), {"expected a tuple of integers"}},
      {"shape (5)", with_shape("(5)"), {"'shape' (5) is not a tuple: a 1-D shape is written (5,)"}},
      {"shape float", with_shape("(2.0, 3)"), {"expected an integer dimension; found '.'"}},
      {"shape name", with_shape("(n, 3)"), {"expected an integer dimension; found 'n'"}},
      {"shape hex", with_shape("(0x10,)"), {"expected an integer dimension; found 'x'"}},
      {"shape leading zero", with_shape("(007,)"), {"leading zeros are not allowed"}},
      {"shape empty entry", with_shape("(2,, 3)"), {"expected an integer dimension; found ','"}},
      {"shape comma only", with_shape("(,)"), {"expected an integer dimension; found ','"}},
      {"shape no comma", with_shape("(2 3)"), {"expected ',' or ')' in the shape; found '3'"}},
      {"shape unclosed", with_shape("(2, 3"), {"expected an integer dimension; found '}'"}},
      {"shape cut off",
       with_dict("{'shape': (2, 3"),
       {"expected ',' or ')' in the shape; found the end of the header"}},
      {"shape 64 bits",
       with_shape("(99999999999999999999,)"),
       {"a dimension of the shape does not fit in 64 bits"}},
      {"shape 2^63", with_shape("(9223372036854775808,)"), {"does not fit in 64 bits"}},
      {"negative dim", with_shape("(2, -3)"), {"shape (2, -3) has a negative dimension -3"}},
      {"negative zero size", with_shape("(0, -1)"), {"negative dimension -1"}},
      {"seven dims",
       with_shape("(1, 1, 1, 1, 1, 1, 1)"),
       {"the shape has more than 6 dimensions, stepjit's maximum rank"}},
      {"many dims", with_shape("(" + repeat("1, ", 10000) + ")"), {"more than 6 dimensions"}},
      {"above 2^40",
       with_shape("(1048576, 1048577)"),
       {"shape (1048576, 1048577) has more than 2^40 elements"}},
      {"product overflows", with_shape("(4611686018427387904, 4)"), {"more than 2^40 elements"}},
      {"2^40 exactly, but no data",
       with_shape("(1048576, 1048576)"),
       {"truncated data: f32[1048576,1048576] needs 4398046511104 bytes"}},
      {"short data",
       with_shape("(2, 3)", kF32x6.substr(0, 20)),
       {"truncated data: f32[2,3] needs 24 bytes after the header (from byte 70), the file has "
        "20"}},
      {"no data", with_shape("(2, 3)"), {"needs 24 bytes", "the file has 0"}},
      {"extra data",
       with_shape("(2, 3)", kF32x6 + "abcd"),
       {"4 extra bytes after the data: f32[2,3] needs 24 bytes from byte 70, the file has 28"}},
      {"scalar extra", with_shape("()", kF32x6), {"20 extra bytes after the data"}},
      {"zero size extra", with_shape("(0, 3)", "x"), {"1 extra byte after the data"}},
      {"bool 2",
       npy("{'descr': '|b1', 'fortran_order': False, 'shape': (3,)}",
           std::string("\x01\x02\x00", 3)),
       {"bool element 1 (byte 67) is 0x02; a bool must be 0 or 1"}},
      {"bool ff",
       npy("{'descr': '?', 'fortran_order': False, 'shape': (1,)}", "\xff"),
       {"bool element 0", "is 0xff"}},
  };
}

TEST(NpyRead, BadFilesSayWhy) {
  std::vector<BadCase> cases = bad_cases();
  for (const BadCase& c : cases) {
    SCOPED_TRACE(c.what);
    std::string message = error_of(c.file);
    for (const std::string& part : c.message_has)
      EXPECT_NE(message.find(part), std::string::npos)
          << "message: " << message << "\nexpected to contain: " << part;
  }
  EXPECT_GE(cases.size(), 70u);
}

TEST_F(NpyFiles, BadFilesSayWhyThroughReadNpy) {
  for (const BadCase& c : bad_cases()) {
    SCOPED_TRACE(c.what);
    write_raw("bad.npy", c.file);
    try {
      read_npy(path("bad.npy"));
      ADD_FAILURE() << "no error";
    } catch (const Error& e) {
      EXPECT_EQ(e.location(), (Location{path("bad.npy"), 0, 0}));
      for (const std::string& part : c.message_has)
        EXPECT_NE(e.message().find(part), std::string::npos) << e.message() << "\n vs " << part;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Robustness: truncation and mutation of valid files.

std::vector<std::string> valid_files() {
  return {kValid,
          to_string(serialize_npy(Tensor::from_bool({2, 2}, {true, false, false, true}))),
          to_string(serialize_npy(Tensor::from<int64_t>({3}, {1, 2, 3}))),
          npy("{\"shape\":(1,2,),\"descr\":\"<f8\",\"fortran_order\":False}",
              raw(std::vector<double>{1.5, -2})),
          npy("{'descr': '<i4', 'fortran_order': False, 'shape': (1L,)}", raw(std::vector{7}), 2),
          npy("{'descr': '<f4', 'fortran_order': False, 'shape': ()}", raw(std::vector{1.f}), 3)};
}

TEST(NpyRobust, EveryTruncationThrowsSjError) {
  int cases = 0;
  for (const std::string& file : valid_files()) {
    ASSERT_NO_THROW(parse(file));
    for (size_t n = 0; n < file.size(); ++n, ++cases) {
      try {
        parse_npy(to_bytes(file.substr(0, n)), "cut.npy");
        ADD_FAILURE() << "no error at length " << n << " of " << testing::PrintToString(file);
      } catch (const Error&) {
      } catch (const std::exception& e) {
        ADD_FAILURE() << "not an sj::Error at length " << n << ": " << e.what();
      }
    }
  }
  EXPECT_GT(cases, 500);
}

TEST_F(NpyFiles, EveryTruncationThrowsSjErrorThroughReadNpy) {
  std::string file = to_string(serialize_npy(Tensor::from<double>({2}, {1, 2})));
  for (size_t n = 0; n < file.size(); ++n) {
    write_raw("cut.npy", file.substr(0, n));
    EXPECT_THROW(read_npy(path("cut.npy")), Error) << n;
  }
}

TEST(NpyRobust, EverySingleByteMutationParsesOrThrowsSjError) {
  const char values[] = {'\0', '\x01', '\x02', '\x7f', '\x80', '\xff', ' ', '\n', '\\', '\'',
                         '"',  '(',    ')',    '{',    '}',    ',',    ':', '-',  '0',  '9',
                         'L',  'T',    'F',    '<',    '>',    '|',    '?', 'b',  'f',  'i'};
  int cases = 0;
  for (const std::string& file : valid_files()) {
    std::vector<std::byte> bytes = to_bytes(file);
    for (size_t i = 0; i < bytes.size(); ++i) {
      std::byte saved = bytes[i];
      for (char v : values) {
        bytes[i] = static_cast<std::byte>(v);
        parses_or_errors(bytes);
        ++cases;
      }
      for (int bit = 0; bit < 8; ++bit) {
        bytes[i] = saved ^ static_cast<std::byte>(1 << bit);
        parses_or_errors(bytes);
        ++cases;
      }
      bytes[i] = saved;
    }
  }
  EXPECT_GT(cases, 20000);
}

TEST(NpyRobust, RandomMutationsParseOrThrowSjError) {
  std::mt19937 rng(12345);
  std::vector<std::string> files = valid_files();
  for (int iter = 0; iter < 20000; ++iter) {
    std::vector<std::byte> bytes = to_bytes(files[iter % files.size()]);
    int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits; ++e) {
      size_t i = rng() % bytes.size();
      switch (rng() % 3) {
      case 0:
        bytes[i] = static_cast<std::byte>(rng());
        break;
      case 1:
        bytes.erase(bytes.begin() + static_cast<std::ptrdiff_t>(i));
        break;
      case 2:
        bytes.insert(bytes.begin() + static_cast<std::ptrdiff_t>(i), std::byte(rng()));
        break;
      }
      if (bytes.empty()) break;
    }
    parses_or_errors(bytes);
  }
}

// Random headers from the tokens the parser knows, to reach its odd corners.
TEST(NpyRobust, RandomTokenHeadersParseOrThrowSjError) {
  const char* tokens[] = {"{",
                          "}",
                          "(",
                          ")",
                          "'",
                          "\"",
                          ":",
                          ",",
                          " ",
                          "\n",
                          "'descr'",
                          "'shape'",
                          "'fortran_order'",
                          "True",
                          "False",
                          "'<f4'",
                          "'|b1'",
                          "1",
                          "0",
                          "-",
                          "L",
                          "[",
                          "\\",
                          "2,",
                          "3",
                          "9999999999999999999999"};
  std::mt19937 rng(777);
  for (int iter = 0; iter < 20000; ++iter) {
    std::string dict;
    int n = static_cast<int>(rng() % 24);
    for (int k = 0; k < n; ++k)
      dict += tokens[rng() % std::size(tokens)];
    std::string file = npy(dict, "", 1 + static_cast<int>(rng() % 3));
    parses_or_errors(to_bytes(file));
  }
}

// ---------------------------------------------------------------------------------------------
// File-system errors

TEST_F(NpyFiles, ReadErrorsNameThePath) {
  std::string missing = path("missing.npy");
  try {
    read_npy(missing);
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_EQ(e.location().file, missing);
    EXPECT_EQ(e.message(), "cannot open for reading: No such file or directory");
  }
  try {
    read_npy(dir_.string());
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_EQ(e.message(), "not a regular file");
  }
}

TEST_F(NpyFiles, WriteErrorsNameThePathAndLeaveNothing) {
  Tensor t = Tensor::from<float>({2}, {1, 2});
  std::string in_missing_dir = path("no/such/dir/x.npy");
  try {
    write_npy(in_missing_dir, t);
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_EQ(e.location().file, in_missing_dir);
    EXPECT_NE(e.message().find("cannot create the temporary file"), std::string::npos);
    EXPECT_NE(e.message().find("No such file or directory"), std::string::npos) << e.message();
  }
  // A directory or device in the way is not replaced.
  fs::create_directory(path("taken.npy"));
  try {
    write_npy(path("taken.npy"), t);
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_EQ(e.location().file, path("taken.npy"));
    EXPECT_EQ(e.message(), "exists and is not a regular file; not replacing it");
  }
  EXPECT_THROW(write_npy("/dev/null", t), Error);
  int entries = 0;
  for ([[maybe_unused]] auto& e : fs::directory_iterator(dir_))
    ++entries;
  EXPECT_EQ(entries, 1); // just taken.npy/
}

TEST_F(NpyFiles, WriteThroughASymlinkReplacesItsTarget) {
  Tensor t = Tensor::from<int32_t>({2}, {3, 4});
  write_raw("real.npy", "old");
  fs::create_symlink("real.npy", path("link.npy"));
  write_npy(path("link.npy"), t);
  EXPECT_TRUE(fs::is_symlink(path("link.npy")));
  EXPECT_TRUE(read_npy(path("real.npy")) == t);
  int entries = 0;
  for ([[maybe_unused]] auto& e : fs::directory_iterator(dir_))
    ++entries;
  EXPECT_EQ(entries, 2);
}

// Issue 11 row 10: the replaced file's mode is kept (it was 0644 whatever it had been), and a
// dangling symlink is followed (it was replaced by a regular file).
TEST_F(NpyFiles, WriteKeepsTheReplacedFilesModeAndFollowsADanglingSymlink) {
  Tensor t = Tensor::from<float>({2}, {1, 2});
  write_npy(path("x.npy"), t);
  ASSERT_EQ(::chmod(path("x.npy").c_str(), 0600), 0);
  write_npy(path("x.npy"), Tensor::from<float>({1}, {3}));
  struct stat st;
  ASSERT_EQ(::stat(path("x.npy").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);

  fs::create_symlink("target.npy", path("dangling.npy"));
  write_npy(path("dangling.npy"), t);
  EXPECT_TRUE(fs::is_symlink(path("dangling.npy")));
  EXPECT_TRUE(read_npy(path("target.npy")) == t);
  int entries = 0;
  for ([[maybe_unused]] auto& e : fs::directory_iterator(dir_))
    ++entries;
  EXPECT_EQ(entries, 3);
}

TEST_F(NpyFiles, ReadingAFifoDoesNotHang) {
  ASSERT_EQ(::mkfifo(path("fifo.npy").c_str(), 0600), 0);
  try {
    read_npy(path("fifo.npy"));
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_EQ(e.message(), "not a regular file");
  }
}

TEST_F(NpyFiles, WriteReplacesAnExistingFile) {
  write_raw("x.npy",
            "old contents that are longer than the new file will be, by a good margin "
            "................................................................................"
            "................................................................................");
  Tensor t = Tensor::scalar(int64_t{5});
  write_npy(path("x.npy"), t);
  EXPECT_EQ(to_bytes(read_raw("x.npy")), serialize_npy(t));
}

// A file size limit makes write() fail part way, as a full disk does.
TEST_F(NpyFiles, FailedWriteLeavesTheOldFileAndNoTemporary) {
  Tensor old_value = Tensor::scalar(1.0);
  write_npy(path("x.npy"), old_value);
  struct rlimit saved;
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &saved), 0);
  auto saved_handler = std::signal(SIGXFSZ, SIG_IGN);
  struct rlimit small = saved;
  small.rlim_cur = 1000;
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &small), 0);
  std::string message;
  try {
    write_npy(path("x.npy"), Tensor({DType::f32, {1000}}));
  } catch (const Error& e) {
    message = e.message();
    EXPECT_EQ(e.location().file, path("x.npy"));
  }
  ::setrlimit(RLIMIT_FSIZE, &saved);
  std::signal(SIGXFSZ, saved_handler);
  EXPECT_NE(message.find("cannot write"), std::string::npos) << message;
  EXPECT_NE(message.find("File too large"), std::string::npos) << message;
  EXPECT_TRUE(read_npy(path("x.npy")) == old_value);
  int entries = 0;
  for ([[maybe_unused]] auto& e : fs::directory_iterator(dir_))
    ++entries;
  EXPECT_EQ(entries, 1);
}

TEST_F(NpyFiles, WriteIntoReadOnlyDirectory) {
  if (::geteuid() == 0) GTEST_SKIP() << "root ignores directory permissions";
  fs::create_directory(path("ro"));
  fs::permissions(path("ro"), fs::perms::owner_read | fs::perms::owner_exec);
  try {
    write_npy(path("ro/x.npy"), Tensor::scalar(1.f));
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_NE(e.message().find("Permission denied"), std::string::npos) << e.message();
  }
  fs::permissions(path("ro"), fs::perms::owner_all);
}

// ---------------------------------------------------------------------------------------------
// Real NumPy files, when a shared directory of them exists.

TEST(NpyShared, FilesInWorkShared) {
  std::error_code ec;
  std::vector<fs::path> files;
  if (fs::is_directory("/work/shared", ec))
    for (auto it = fs::recursive_directory_iterator(
             "/work/shared", fs::directory_options::skip_permission_denied, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec))
      if (it->path().extension() == ".npy" && it->is_regular_file(ec)) files.push_back(it->path());
  if (files.empty()) GTEST_SKIP() << "no .npy files under /work/shared";
  for (const fs::path& f : files) {
    SCOPED_TRACE(f.string());
    try {
      Tensor t = read_npy(f.string());
      // What we read, we write back readably (not necessarily byte-identical: other writers pad
      // differently).
      EXPECT_TRUE(parse_npy(serialize_npy(t), "again.npy") == t);
    } catch (const Error& e) {
      // Unsupported dtypes and orders are fine, as long as they are reported as sj::Error.
      SUCCEED() << e.what();
    }
  }
}

} // namespace
} // namespace sj

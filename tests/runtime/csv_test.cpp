#include "runtime/csv.h"

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fmt/format.h>
#include <fstream>
#include <gtest/gtest.h>
#include <limits>
#include <string>
#include <unistd.h>

namespace sj {
namespace {

namespace fs = std::filesystem;

CsvTable parse(std::string_view text, DType dtype = DType::f32, char delimiter = ',') {
  return parse_csv(text, "t.csv", CsvOptions{dtype, delimiter});
}

// The error parsing `text` throws: its location (line, column) and message.
struct Failure {
  uint32_t line = 0;
  uint32_t column = 0;
  std::string message;
};

Failure error_of(std::string_view text, CsvOptions options = {}) {
  try {
    parse_csv(text, "bad.csv", options);
  } catch (const Error& e) {
    EXPECT_EQ(e.location().file, "bad.csv");
    EXPECT_NE(std::string(e.what()).find("bad.csv"), std::string::npos) << e.what();
    return {e.location().line, e.location().column, e.message()};
  }
  ADD_FAILURE() << "no error for " << testing::PrintToString(std::string(text));
  return {};
}

#define EXPECT_CSV_ERROR(text, line_, column_, substring)                                          \
  do {                                                                                             \
    Failure f_ = error_of(text);                                                                   \
    EXPECT_EQ(f_.line, line_u(line_)) << f_.message;                                               \
    EXPECT_EQ(f_.column, line_u(column_)) << f_.message;                                           \
    EXPECT_NE(f_.message.find(substring), std::string::npos) << f_.message;                        \
  } while (0)

uint32_t line_u(int v) { return static_cast<uint32_t>(v); }

// Copies: a span from values<T>() must not outlive its tensor, and a test's parse(...) result is
// a temporary (a span kept into one is a use after free, issue 11 row 18).
std::vector<float> f32s(const Tensor& t) {
  auto v = t.values<float>();
  return {v.begin(), v.end()};
}

std::vector<double> f64s(const Tensor& t) {
  auto v = t.values<double>();
  return {v.begin(), v.end()};
}

TEST(Csv, BasicTable) {
  CsvTable t = parse("a,b,c\n1,2,3\n4,5,6\n");
  EXPECT_EQ(t.columns, (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(t.data.type(), (TensorType{DType::f32, {2, 3}}));
  EXPECT_EQ(f32s(t.data), (std::vector<float>{1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(t.lines, (std::vector<uint32_t>{2, 3}));
  EXPECT_EQ(t.source, "t.csv");
  EXPECT_EQ(t.num_rows(), 2);
  EXPECT_EQ(t.column_index("b"), 1);
  EXPECT_EQ(t.column_index("z"), -1);
}

TEST(Csv, HeaderOnlyIsAnEmptyTable) {
  CsvTable t = parse("x,y\n");
  EXPECT_EQ(t.data.type(), (TensorType{DType::f32, {0, 2}}));
  EXPECT_EQ(parse("x,y").data.type(), (TensorType{DType::f32, {0, 2}}));
}

TEST(Csv, CrlfBomMissingFinalNewlineTrailingBlankLines) {
  CsvTable t = parse("\xEF\xBB\xBFx,y\r\n1,2\r\n3,4");
  EXPECT_EQ(t.columns, (std::vector<std::string>{"x", "y"}));
  EXPECT_EQ(f32s(t.data), (std::vector<float>{1, 2, 3, 4}));
  CsvTable u = parse("x\n1\n\n  \r\n\t\n\n");
  EXPECT_EQ(f32s(u.data), (std::vector<float>{1}));
}

TEST(Csv, QuotesSpacesSigns) {
  CsvTable t = parse(" \"a,1\" , \"say \"\"hi\"\"\",c\n \"1.5\" ,  -2e3 ,+7\n");
  EXPECT_EQ(t.columns, (std::vector<std::string>{"a,1", "say \"hi\"", "c"}));
  EXPECT_EQ(f32s(t.data), (std::vector<float>{1.5f, -2000.f, 7.f}));
  // Spaces inside quotes around a number are allowed too.
  EXPECT_EQ(f32s(parse("a\n\" 3 \"\n").data), (std::vector<float>{3}));
}

TEST(Csv, SpecialValues) {
  CsvTable t = parse("a,b,c,d,e\nnan,inf,-inf,NaN,-0\n", DType::f64);
  auto v = t.data.values<double>();
  EXPECT_TRUE(std::isnan(v[0]));
  EXPECT_EQ(v[1], std::numeric_limits<double>::infinity());
  EXPECT_EQ(v[2], -std::numeric_limits<double>::infinity());
  EXPECT_TRUE(std::isnan(v[3]));
  EXPECT_TRUE(std::signbit(v[4]));
}

TEST(Csv, NumbersRoundOnceToTheDtype) {
  // 0.1 in f32 is the float nearest 0.1, not the double nearest 0.1 rounded again.
  EXPECT_EQ(parse("a\n0.1\n").data.values<float>()[0], 0.1f);
  EXPECT_EQ(parse("a\n0.1\n", DType::f64).data.values<double>()[0], 0.1);
  EXPECT_EQ(parse("a\n16777217\n").data.values<float>()[0], 16777216.f);
  EXPECT_EQ(parse("a\n1e300\n", DType::f64).data.values<double>()[0], 1e300);
}

TEST(Csv, OtherDelimiters) {
  EXPECT_EQ(f32s(parse("a;b\n1;2\n", DType::f32, ';').data), (std::vector<float>{1, 2}));
  EXPECT_EQ(f32s(parse("a\tb\n 1\t2 \n", DType::f32, '\t').data), (std::vector<float>{1, 2}));
  // With tab as the delimiter a tab is not a space: two tabs make an empty field.
  Failure f = error_of("a\tb\n1\t\t2\n", {DType::f32, '\t'});
  EXPECT_EQ(f.line, 2u);
  EXPECT_NE(f.message.find("3 fields"), std::string::npos) << f.message;
}

TEST(Csv, RoundTripsEveryFloat) {
  // Shortest round-trip text (fmt "{}") of many f32 and f64 values parses back bit for bit.
  std::vector<float> fs = {0.f,      -0.f,      1.f,    0.1f, 3.4028235e38f, 1.17549435e-38f,
                           1.4e-45f, -123.456f, 1e-10f, 7e22f};
  std::vector<double> ds = {0.0, 0.1, 1e300, 5e-324, -2.2250738585072014e-308, 1.0 / 3};
  for (uint32_t i = 0; i < 200; ++i) {
    uint32_t bits = i * 2654435761u;
    float f;
    std::memcpy(&f, &bits, 4);
    if (std::isfinite(f)) fs.push_back(f);
    uint64_t b64 = uint64_t{i} * 0x9e3779b97f4a7c15ULL;
    double d;
    std::memcpy(&d, &b64, 8);
    if (std::isfinite(d)) ds.push_back(d);
  }
  std::string text = "v\n";
  for (float f : fs)
    text += fmt::format("{}\n", f);
  EXPECT_EQ(f32s(parse(text).data), fs);
  text = "v\n";
  for (double d : ds)
    text += fmt::format("{}\n", d);
  EXPECT_EQ(f64s(parse(text, DType::f64).data), ds);
}

TEST(Csv, ReadCsvFromAFile) {
  fs::path dir = fs::temp_directory_path() / fmt::format("sj_csv_test_{}", ::getpid());
  fs::create_directories(dir);
  std::string path = (dir / "d.csv").string();
  {
    std::ofstream out(path, std::ios::binary);
    out << "x,label\n0.5,1\n-1,0\n";
  }
  CsvTable t = read_csv(path, {DType::f64});
  EXPECT_EQ(t.source, path);
  EXPECT_EQ(t.data.type(), (TensorType{DType::f64, {2, 2}}));
  EXPECT_EQ(t.data.values<double>()[2], -1.0);
  try {
    read_csv((dir / "missing.csv").string());
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(e.message().find("cannot open"), std::string::npos) << e.message();
  }
  try {
    read_csv(dir.string());
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(e.message().find("not a regular file"), std::string::npos) << e.message();
  }
  fs::remove_all(dir);
}

TEST(CsvErrors, HeaderProblems) {
  EXPECT_CSV_ERROR("", 0, 0, "empty file");
  EXPECT_CSV_ERROR("\xEF\xBB\xBF", 0, 0, "empty file");
  EXPECT_CSV_ERROR("\n\n", 1, 0, "only blank lines");
  EXPECT_CSV_ERROR("\na,b\n", 1, 0, "first line is blank");
  EXPECT_CSV_ERROR("a,,c\n", 1, 3, "column 2 of the header has an empty name");
  EXPECT_CSV_ERROR("a,\"\"\n", 1, 3, "empty name");
}

TEST(CsvErrors, Messages) {
  EXPECT_CSV_ERROR("a,b,a\n1,2,3\n", 1, 5, "duplicate column name 'a' (columns 1 and 3)");
  EXPECT_CSV_ERROR("a,b\n1,2\n3\n", 3, 2, "this row has 1 field, the header has 2 columns");
  EXPECT_CSV_ERROR("a,b\n1,2\n3,4,5,6\n", 3, 5, "this row has 4 fields, the header has 2");
  EXPECT_CSV_ERROR("a,b\n1,2\n3,\n", 3, 3, "missing value at line 3, column 'b'");
  EXPECT_CSV_ERROR("a,b\n1,  \n", 2, 3, "missing value at line 2, column 'b'");
  EXPECT_CSV_ERROR("a,b\n1,\"\"\n", 2, 3, "missing value");
  EXPECT_CSV_ERROR("a,b\n1,x2\n", 2, 3, "column 'b': 'x2' is not a number");
  EXPECT_CSV_ERROR("a\n1e\n", 2, 1, "'1e' is not a number");
  EXPECT_CSV_ERROR("a\n1.5.2\n", 2, 1, "not a number");
  EXPECT_CSV_ERROR("a\n0x10\n", 2, 1, "not a number");
  EXPECT_CSV_ERROR("a\n1 2\n", 2, 1, "'1 2' is not a number");
  EXPECT_CSV_ERROR("a\n++1\n", 2, 1, "not a number");
  EXPECT_CSV_ERROR("a\n+\n", 2, 1, "not a number");
  EXPECT_CSV_ERROR("a\n\"1\"\"\"\n", 2, 1, "not a number");
  EXPECT_CSV_ERROR("a\n1e39\n", 2, 1, "'1e39' is out of range for f32");
  EXPECT_CSV_ERROR("a\n1e-50\n", 2, 1, "out of range for f32");
  EXPECT_CSV_ERROR("a,b\n1,2\n\n3,4\n", 3, 0, "blank line inside the data: every row needs 2");
  EXPECT_CSV_ERROR("a,b\n1,\"2\n", 2, 3, "unterminated quoted field");
  EXPECT_CSV_ERROR("a,b\n1,\"2\"x\n", 2, 6, "unexpected 'x' after the closing quote");
  EXPECT_CSV_ERROR("a,b\n1,2\"\n", 2, 4, "a quote inside an unquoted field");
  EXPECT_CSV_ERROR("a,b\n1,2\r3\n", 2, 4, "carriage return");
  EXPECT_CSV_ERROR("a,\"b\rc\"\n", 1, 5, "carriage return");
  EXPECT_CSV_ERROR("\xEF\xBB\xBF"
                   "a,b\n1\n",
                   2, 2, "1 field");
  EXPECT_CSV_ERROR("\xEF\xBB\xBF"
                   "a,,b\n",
                   1, 3, "empty name"); // columns count after the BOM
}

TEST(CsvErrors, LocationsInCrlfFilesAndWhat) {
  EXPECT_CSV_ERROR("a,b\r\n1,2\r\n3\r\n", 3, 2, "this row has 1 field");
  EXPECT_CSV_ERROR("a,b\r\n1,2\r\n3,y\r\n", 3, 3, "'y' is not a number");
  try {
    parse_csv("a,b\n1,2\n3\n", "bad.csv");
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), "bad.csv:3:2: error: this row has 1 field, the header has 2 "
                                     "columns");
  }
}

TEST(CsvErrors, F64Range) {
  Failure f = error_of("a\n1e309\n", {DType::f64, ','});
  EXPECT_NE(f.message.find("out of range for f64"), std::string::npos) << f.message;
}

TEST(CsvErrors, BadOptions) {
  Failure f = error_of("a\n1\n", {DType::i32, ','});
  EXPECT_NE(f.message.find("f32 or f64"), std::string::npos) << f.message;
  for (char d : {'"', ' ', '\n', '\r', '1', 'e', '.', '-', '+'}) {
    Failure g = error_of("a\n1\n", {DType::f32, d});
    EXPECT_NE(g.message.find("cannot separate fields"), std::string::npos) << g.message;
  }
}

TEST(CsvErrors, TooManyColumns) {
  std::string header;
  for (int i = 0; i <= (1 << 20); ++i)
    header += fmt::format("{}c{}", i ? "," : "", i);
  Failure f = error_of(header + "\n");
  EXPECT_NE(f.message.find("more than the maximum"), std::string::npos) << f.message;
}

// Parsing must give a table or an sj::Error: nothing else, and never a crash.
void parses_or_errors(std::string_view text) {
  try {
    parse_csv(text, "fuzz.csv");
  } catch (const Error&) {
  } catch (const std::exception& e) {
    ADD_FAILURE() << "not an sj::Error: " << e.what() << " for "
                  << testing::PrintToString(std::string(text));
  }
}

const std::string kValid = "\xEF\xBB\xBF\"x 1\",\"y\"\"\" , z\r\n 1.5,-2,nan\r\n\"3\",inf,+4e-3\n"
                           "5,6,7\n\n";

TEST(CsvFuzz, EveryTruncation) {
  EXPECT_EQ(parse(kValid).data.type(), (TensorType{DType::f32, {3, 3}}));
  for (size_t n = 0; n <= kValid.size(); ++n)
    parses_or_errors(std::string_view(kValid).substr(0, n));
}

TEST(CsvFuzz, RandomMutations) {
  const std::string alphabet = std::string("0123456789,.\"\r\n \t+-einfaEx\xEF\xBB\xBF\0", 31);
  uint64_t state = 12345;
  auto next = [&] {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return state >> 33;
  };
  for (int iter = 0; iter < 20000; ++iter) {
    std::string s = kValid;
    int edits = 1 + static_cast<int>(next() % 4);
    for (int k = 0; k < edits; ++k) {
      size_t pos = next() % (s.size() + 1);
      char c = next() % 2 ? alphabet[next() % alphabet.size()] : static_cast<char>(next());
      switch (next() % 3) {
      case 0:
        if (pos < s.size()) s[pos] = c;
        break;
      case 1:
        s.insert(s.begin() + static_cast<std::ptrdiff_t>(pos), c);
        break;
      default:
        if (pos < s.size()) s.erase(pos, 1);
      }
    }
    parses_or_errors(s);
  }
}

CsvTable labelled() { return parse("x,y,label\n1,2,0\n3,4,2\n5,6,1\n"); }

TEST(CsvColumns, FeaturesAndLabels) {
  CsvTable t = labelled();
  Tensor x = columns(t, {"y", "x"}, DType::f32);
  EXPECT_EQ(x, Tensor::from<float>({3, 2}, {2, 1, 4, 3, 6, 5}));
  Tensor y = column(t, "label", DType::i32);
  EXPECT_EQ(y, Tensor::from<int32_t>({3}, {0, 2, 1}));
  EXPECT_EQ(column(t, "label", DType::i64), Tensor::from<int64_t>({3}, {0, 2, 1}));
  EXPECT_EQ(columns(t, {"x"}, DType::f64), Tensor::from<double>({3, 1}, {1, 3, 5}));
  EXPECT_EQ(columns(t, {"x", "x"}, DType::f32), Tensor::from<float>({3, 2}, {1, 1, 3, 3, 5, 5}));
  CsvTable b = parse("flag\n0\n1\n");
  EXPECT_EQ(column(b, "flag", DType::boolean), Tensor::from<bool>({2}, {false, true}));
  CsvTable empty = parse("a,b\n");
  EXPECT_EQ(columns(empty, {"b"}, DType::i32).type(), (TensorType{DType::i32, {0, 1}}));
}

std::string columns_error(const CsvTable& t, const std::vector<std::string>& names, DType dtype,
                          uint32_t* line = nullptr) {
  try {
    columns(t, names, dtype);
  } catch (const Error& e) {
    if (line) *line = e.location().line;
    return e.message();
  }
  ADD_FAILURE() << "no error";
  return "";
}

TEST(CsvColumns, Errors) {
  CsvTable t = parse("x,label\n1,0\n2,1.5\n3,nan\n", DType::f64);
  uint32_t line = 0;
  EXPECT_EQ(columns_error(t, {"label"}, DType::i32, &line),
            "row 1 (line 3), column 'label': 1.5 is not a whole number, as i32 values (e.g. class "
            "indices) must be");
  EXPECT_EQ(line, 3u);
  CsvTable n = parse("label\n1\nnan\n");
  EXPECT_NE(columns_error(n, {"label"}, DType::i64, &line).find("row 1 (line 3)"),
            std::string::npos);
  CsvTable big = parse("v\n3e9\n", DType::f64);
  EXPECT_NE(columns_error(big, {"v"}, DType::i32).find("out of range for i32"), std::string::npos);
  EXPECT_EQ(column(big, "v", DType::i64), Tensor::from<int64_t>({1}, {3000000000}));
  CsvTable huge = parse("v\n1e300\n", DType::f64);
  EXPECT_NE(columns_error(huge, {"v"}, DType::f32).find("overflows f32"), std::string::npos);
  EXPECT_NE(columns_error(huge, {"v"}, DType::i64).find("out of range for i64"), std::string::npos);
  CsvTable b = parse("flag\n2\n");
  EXPECT_NE(columns_error(b, {"flag"}, DType::boolean).find("0 or 1"), std::string::npos);
  EXPECT_EQ(columns_error(t, {"nope"}, DType::f32),
            "t.csv has no column 'nope'; its columns are 'x', 'label'");
  EXPECT_NE(columns_error(t, {}, DType::f32).find("no column names"), std::string::npos);
  CsvTable broken = t;
  broken.columns.pop_back();
  EXPECT_NE(columns_error(broken, {"x"}, DType::f32).find("malformed CsvTable"), std::string::npos);
}

TEST(CsvColumns, ErrorsPointAtTheCaller) {
  CsvTable t = labelled();
  int line = __LINE__ + 2;
  try {
    columns(t, {"nope"}, DType::f32);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.location().line, static_cast<uint32_t>(line));
  }
}

} // namespace
} // namespace sj

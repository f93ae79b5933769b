// libFuzzer target: CSV tables (runtime/csv.h), as text and as a file.
//
// Promises checked, for every input, with f32 and f64 tables and three delimiters:
//   - parse_csv returns a table or throws sj::Error (nothing else), and read_csv of the same
//     bytes in a file agrees (the same table, or an sj::Error too);
//   - a table is consistent: [rows, columns] data, one line number per row;
//   - every column, converted to every dtype by column() and all of them by columns(), gives a
//     tensor of the promised shape or an sj::Error.
#include "runtime/csv.h"
#include "tests/fuzz/fuzz_util.h"
#include "tests/fuzz/temp_file.h"

using namespace sj;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  const std::string& path = fuzz::write_temp_file(".csv", data, size);
  for (DType dtype : {DType::f32, DType::f64})
    for (char delimiter : {',', ';', '\t'}) {
      CsvOptions options{.dtype = dtype, .delimiter = delimiter};
      CsvTable table, from_file;
      auto err = fuzz::sj_error_of("parse_csv", [&] { table = parse_csv(text, path, options); });
      auto file_err = fuzz::sj_error_of("read_csv", [&] { from_file = read_csv(path, options); });
      if (err.has_value() != file_err.has_value())
        fuzz::fail("parse_csv and read_csv disagree on the same bytes: " +
                   err.value_or("parse_csv accepts") + " / " +
                   file_err.value_or("read_csv accepts"));
      if (err) continue;
      if (!(table.data == from_file.data) || table.columns != from_file.columns ||
          table.lines != from_file.lines)
        fuzz::fail("parse_csv and read_csv give different tables");
      int64_t rows = table.num_rows(), cols = int64_t(table.columns.size());
      if (table.data.dtype() != dtype || table.data.rank() != 2 || table.data.shape()[1] != cols ||
          int64_t(table.lines.size()) != rows)
        fuzz::fail("an inconsistent table: " + table.data.type().str() + " for " +
                   std::to_string(cols) + " columns and " + std::to_string(table.lines.size()) +
                   " line numbers");
      if (cols > 64) continue; // enough conversions for one input
      for (DType to : {DType::f32, DType::f64, DType::i32, DType::i64, DType::boolean}) {
        for (const std::string& name : table.columns) {
          Tensor c;
          if (!fuzz::sj_error_of("column", [&] { c = column(table, name, to); }) &&
              c.type() != TensorType{to, {rows}})
            fuzz::fail("column() gave " + c.type().str());
        }
        Tensor all;
        if (!fuzz::sj_error_of("columns", [&] { all = columns(table, table.columns, to); }) &&
            all.type() != TensorType{to, {rows, cols}})
          fuzz::fail("columns() gave " + all.type().str());
      }
    }
  return 0;
}

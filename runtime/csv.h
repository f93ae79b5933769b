// Numeric CSV files with a header line to sj::Tensor: training data for examples and tests.
//
//   x,y,label            <- header: unique, non-empty column names ("quoted" allowed)
//   0.5, 1.25e-3, 2      <- every row: one number per column
//   nan,-inf,"1"
//
// The whole file is parsed into one [rows, columns] f32 or f64 tensor; columns() then picks the
// features and labels by name (labels as i32/i64 class indices must hold whole numbers).
// See docs/data.md for the exact format.
//
// Files are untrusted input: every malformed file throws sj::Error located at
// file:line:column (1-based; the column counts bytes after a UTF-8 BOM) with the cause, and the
// expected and actual values, in the message. Nothing crashes, hangs or reads out of bounds.
//
//   sj::CsvTable t = sj::read_csv("iris.csv");
//   sj::Tensor x = sj::columns(t, {"sepal_length", "sepal_width"}, sj::DType::f32);  // [N, 2]
//   sj::Tensor y = sj::column(t, "species", sj::DType::i32);                          // [N]
#pragma once

#include "graph/tensor.h"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace sj {

/// Files larger than this (2 GiB) are rejected before anything is read.
inline constexpr uint64_t kMaxCsvBytes = uint64_t{1} << 31;

struct CsvOptions {
  /// The element type of CsvTable::data: f32 or f64 (each number is rounded once, from its
  /// decimal text to this type).
  DType dtype = DType::f32;
  /// The field separator. Not a quote, space, line break, digit, letter, '.', '+' or '-'.
  char delimiter = ',';
};

struct CsvTable {
  /// The header's column names, in file order.
  std::vector<std::string> columns;
  /// [rows, columns.size()], f32 or f64.
  Tensor data;
  /// Where the table came from (the path or name_for_errors), for error messages of columns().
  std::string source;
  /// The 1-based file line of each row (lines.size() == rows), for error messages of columns().
  std::vector<uint32_t> lines;

  int64_t num_rows() const { return data.rank() == 2 ? data.shape()[0] : 0; }
  /// The index of the column `name`, or -1.
  int64_t column_index(std::string_view name) const;
};

/// Reads a CSV file (a regular file of at most kMaxCsvBytes). Throws sj::Error naming `path`,
/// line and column, and the cause.
CsvTable read_csv(const std::string& path, const CsvOptions& options = {});

/// Parses the text of a whole CSV file, as read_csv does; `name_for_errors` is the file name used
/// in error locations.
CsvTable parse_csv(std::string_view text, const std::string& name_for_errors,
                   const CsvOptions& options = {});

/// The columns `names` (in that order, repeats allowed) of `table` as a [rows, names.size()]
/// tensor of `dtype`. Converting to i32/i64 requires whole numbers in range, to bool 0 or 1, to
/// f32 a finite value that stays finite; anything else throws sj::Error at the row's file line
/// naming the row and column. An unknown or no name throws sj::Error at `loc`.
Tensor columns(const CsvTable& table, const std::vector<std::string>& names, DType dtype,
               Location loc = Location::here());

/// One column as a [rows] tensor of `dtype` (e.g. sparse class labels), converted as columns().
Tensor column(const CsvTable& table, const std::string& name, DType dtype,
              Location loc = Location::here());

} // namespace sj

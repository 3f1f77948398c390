// Tabular classification data from CSV files: numeric feature columns and a label column.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/dataset.h"
#include "support/expected.h"

namespace kmr::runtime {

/// Which column holds the labels: by header name, or by 0-based position.
struct CsvLabelColumn {
  std::string name;         // used when not empty
  std::int64_t index = -1;  // used when name is empty

  static CsvLabelColumn by_name(std::string name) { return {std::move(name), -1}; }
  static CsvLabelColumn by_index(std::int64_t index) { return {std::string(), index}; }
};

struct CsvOptions {
  CsvLabelColumn label;
  std::int64_t limit = -1;  // the first `limit` data rows; all when negative
  char delimiter = ',';
};

/// A loaded table: the data set plus the names a report needs.
struct CsvData {
  Dataset data;
  std::vector<std::string> feature_names;  // header names of the feature columns, in order
  std::string label_name;                  // header name of the label column
  /// For string labels, the name of class i; empty when the labels were integers.
  std::vector<std::string> class_names;
};

/// Parses CSV text (RFC 4180: `delimiter`-separated fields, double-quoted fields may hold
/// delimiters, newlines and "" for a quote; LF or CRLF line ends; a UTF-8 byte-order mark
/// is skipped; lines that are empty or only spaces and tabs are skipped).
///
/// The first row is the header: one name per column. Every other column than the label is
/// a feature; its cells must be finite numbers in f32 range (C syntax as std::from_chars
/// reads it, e.g. `-1.5e3`, an optional leading `+`, spaces and tabs around it ignored).
/// Labels, trimmed of spaces and tabs, are either
///   - integer class labels, when every label cell is a decimal integer: they must be in
///     [0, 2^31 − 1), and num_classes is the largest plus one; or
///   - string class names otherwise (`1.0` is a name, not the integer 1): each distinct
///     name becomes class 0, 1, 2, ... in order of first appearance, listed in class_names.
///
/// Fails with "`source`:LINE: ..." (LINE 1-based, the line where the record starts) on a
/// row whose field count differs from the header's, an empty or non-numeric feature cell,
/// an empty or negative label, an unterminated quote; and with "`source`: ..." on an empty
/// input, a header without data rows, a label column that is missing (or named twice),
/// or a table without feature columns.
kmr::Expected<CsvData> parse_csv_dataset(std::string_view text, const std::string& source, const CsvOptions& options);

/// Reads `path` and parses it with parse_csv_dataset (messages name the path).
kmr::Expected<CsvData> load_csv_dataset(const std::string& path, const CsvOptions& options);

}  // namespace kmr::runtime

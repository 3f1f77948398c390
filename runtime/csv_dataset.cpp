// A small RFC 4180 reader feeding a Dataset; every error names the line it is on.
#include "runtime/csv_dataset.h"

#include <charconv>
#include <cmath>
#include <fstream>
#include <limits>
#include <map>
#include <sstream>

namespace kmr::runtime {
namespace {

// Labels stay below this so that num_classes (the largest plus one) fits an int32 too.
constexpr std::int64_t kMaxLabel = std::numeric_limits<std::int32_t>::max();

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// For messages: the cell as written, shortened.
std::string quote(std::string_view cell) {
  std::string s(cell.substr(0, 40));
  if (cell.size() > 40) s += "...";
  return "'" + s + "'";
}

class RecordReader {
 public:
  RecordReader(std::string_view text, char delimiter) : text_(text), delimiter_(delimiter) {
    if (text_.substr(0, 3) == "\xEF\xBB\xBF") pos_ = 3;
  }

  /// The next non-blank record into `fields` (and the line it starts on into `line`);
  /// false at the end of the text.
  kmr::Expected<bool> next(std::vector<std::string>& fields, std::int64_t& line) {
    while (pos_ < text_.size()) {
      line = line_;
      fields.clear();
      bool blank = true;  // only spaces and tabs so far, nothing quoted
      std::string field;
      bool quoted_field = false;
      for (;;) {
        if (pos_ >= text_.size()) {
          fields.push_back(std::move(field));
          break;
        }
        const char c = text_[pos_];
        if (c == '"' && trim(field).empty() && !quoted_field) {
          // A quoted field: everything up to the closing quote, "" standing for one quote.
          const std::int64_t opened = line_;
          ++pos_;
          field.clear();
          for (;;) {
            if (pos_ >= text_.size()) {
              return kmr::Error{":" + std::to_string(opened) + ": unterminated quoted field"};
            }
            const char q = text_[pos_++];
            if (q == '"') {
              if (pos_ < text_.size() && text_[pos_] == '"') {
                field += '"';
                ++pos_;
                continue;
              }
              break;
            }
            if (q == '\n') ++line_;
            field += q;
          }
          quoted_field = true;
          blank = false;
          // Only spaces may separate the closing quote from the delimiter or line end.
          while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t')) ++pos_;
          if (pos_ < text_.size() && text_[pos_] != delimiter_ && text_[pos_] != '\n' && text_[pos_] != '\r') {
            return kmr::Error{":" + std::to_string(line_) + ": unexpected " + quote(text_.substr(pos_, 1)) +
                              " after a closing quote"};
          }
          continue;
        }
        if (c == delimiter_) {
          fields.push_back(std::move(field));
          field.clear();
          quoted_field = false;
          blank = false;
          ++pos_;
          continue;
        }
        if (c == '\n' || (c == '\r' && pos_ + 1 < text_.size() && text_[pos_ + 1] == '\n')) {
          pos_ += c == '\r' ? 2 : 1;
          ++line_;
          fields.push_back(std::move(field));
          break;
        }
        if (c != ' ' && c != '\t') blank = false;
        field += c;
        ++pos_;
      }
      if (!blank) return true;
    }
    return false;
  }

 private:
  std::string_view text_;
  char delimiter_;
  std::size_t pos_ = 0;
  std::int64_t line_ = 1;
};

// A finite f32 from a whole trimmed cell, or the reason it is not one.
kmr::Expected<float> parse_number(std::string_view cell) {
  std::string_view s = trim(cell);
  if (s.empty()) return kmr::Error{"empty cell: every feature must be a number"};
  std::string_view digits = s;
  // from_chars takes no '+'; allow one, but not before another sign.
  if (digits.front() == '+') {
    digits.remove_prefix(1);
    if (digits.empty() || digits.front() == '-' || digits.front() == '+')
      return kmr::Error{quote(s) + " is not a number"};
  }
  float value = 0.0f;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (ec == std::errc::result_out_of_range) return kmr::Error{quote(s) + " is outside the range of f32"};
  if (ec != std::errc() || end != digits.data() + digits.size()) return kmr::Error{quote(s) + " is not a number"};
  if (!std::isfinite(value)) return kmr::Error{quote(s) + " is not a finite number"};
  return value;
}

bool parse_integer(std::string_view s, std::int64_t& value) {
  if (!s.empty() && s.front() == '+') {
    s.remove_prefix(1);
    if (!s.empty() && s.front() == '-') return false;
  }
  if (s.empty()) return false;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  return ec == std::errc() && end == s.data() + s.size();
}

}  // namespace

kmr::Expected<CsvData> parse_csv_dataset(std::string_view text, const std::string& source, const CsvOptions& options) {
  auto fail = [&](const kmr::Error& e) { return kmr::Error{source + e.message}; };
  RecordReader reader(text, options.delimiter);
  std::vector<std::string> header;
  std::int64_t line = 0;
  kmr::Expected<bool> got = reader.next(header, line);
  if (!got) return fail(got.error());
  if (!*got) return kmr::Error{source + ": empty file: expected a header row naming the columns"};

  const std::int64_t columns = static_cast<std::int64_t>(header.size());
  for (std::string& name : header) name = std::string(trim(name));
  std::int64_t label = -1;
  if (!options.label.name.empty()) {
    for (std::int64_t c = 0; c < columns; ++c) {
      if (header[static_cast<std::size_t>(c)] != options.label.name) continue;
      if (label >= 0) {
        return kmr::Error{source + ":" + std::to_string(line) + ": the label column '" + options.label.name +
                          "' appears twice in the header (columns " + std::to_string(label + 1) + " and " +
                          std::to_string(c + 1) + ")"};
      }
      label = c;
    }
    if (label < 0) {
      std::string names;
      for (std::size_t c = 0; c < header.size() && c < 12; ++c) names += (c ? ", " : "") + header[c];
      if (header.size() > 12) names += ", ...";
      return kmr::Error{source + ":" + std::to_string(line) + ": no label column named '" + options.label.name +
                        "' in the header (columns: " + names + ")"};
    }
  } else {
    if (options.label.index < 0 || options.label.index >= columns) {
      return kmr::Error{source + ":" + std::to_string(line) + ": label column " + std::to_string(options.label.index) +
                        " is outside the header's " + std::to_string(columns) + " columns (numbered from 0)"};
    }
    label = options.label.index;
  }
  if (columns < 2) return kmr::Error{source + ": no feature columns besides the label column"};

  CsvData out;
  out.label_name = header[static_cast<std::size_t>(label)];
  for (std::int64_t c = 0; c < columns; ++c) {
    if (c != label) out.feature_names.push_back(header[static_cast<std::size_t>(c)]);
  }
  Dataset& data = out.data;
  data.features = columns - 1;

  std::vector<std::string> fields;
  std::vector<std::string> label_cells;
  std::vector<std::int64_t> label_lines;
  while (options.limit < 0 || data.count < options.limit) {
    got = reader.next(fields, line);
    if (!got) return fail(got.error());
    if (!*got) break;
    const std::string at = source + ":" + std::to_string(line) + ": ";
    if (static_cast<std::int64_t>(fields.size()) != columns) {
      return kmr::Error{at + "the row has " + std::to_string(fields.size()) + " fields but the header has " +
                        std::to_string(columns)};
    }
    for (std::int64_t c = 0; c < columns; ++c) {
      const std::string& cell = fields[static_cast<std::size_t>(c)];
      if (c == label) {
        const std::string_view name = trim(cell);
        if (name.empty()) return kmr::Error{at + "empty label in column '" + out.label_name + "'"};
        label_cells.emplace_back(name);
        label_lines.push_back(line);
        continue;
      }
      kmr::Expected<float> value = parse_number(cell);
      if (!value) {
        return kmr::Error{at + "column '" + header[static_cast<std::size_t>(c)] + "': " + value.error().message};
      }
      data.inputs.push_back(*value);
    }
    ++data.count;
  }
  if (data.count == 0) return kmr::Error{source + ": no data rows after the header"};

  // Integer labels only when every label is an integer; otherwise all are names.
  std::vector<std::int64_t> integers(label_cells.size());
  bool all_integers = true;
  for (std::size_t i = 0; i < label_cells.size() && all_integers; ++i) {
    all_integers = parse_integer(label_cells[i], integers[i]);
  }
  data.labels.reserve(label_cells.size());
  if (all_integers) {
    std::int64_t largest = -1;
    for (std::size_t i = 0; i < integers.size(); ++i) {
      if (integers[i] < 0 || integers[i] >= kMaxLabel) {
        return kmr::Error{source + ":" + std::to_string(label_lines[i]) + ": label " + label_cells[i] +
                          " is outside [0, " + std::to_string(kMaxLabel) + "): integer class labels count from 0"};
      }
      largest = std::max(largest, integers[i]);
      data.labels.push_back(static_cast<std::int32_t>(integers[i]));
    }
    data.num_classes = largest + 1;
  } else {
    std::map<std::string, std::int32_t> classes;
    for (const std::string& name : label_cells) {
      auto [it, added] = classes.emplace(name, static_cast<std::int32_t>(out.class_names.size()));
      if (added) out.class_names.push_back(name);
      data.labels.push_back(it->second);
    }
    data.num_classes = static_cast<std::int64_t>(out.class_names.size());
  }
  return out;
}

kmr::Expected<CsvData> load_csv_dataset(const std::string& path, const CsvOptions& options) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return kmr::Error{path + ": cannot open the file"};
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return kmr::Error{path + ": read error"};
  return parse_csv_dataset(text.str(), path, options);
}

}  // namespace kmr::runtime

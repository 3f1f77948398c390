// Owns the text of every file a compilation reads, so spans can be printed with their line.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace kmr::source {

/// A region of one source file. Lines and columns are 1-based; columns count code points.
/// `line == 0` means "no location" (e.g. an error about a whole file that does not exist).
struct Span {
  uint32_t file = 0;
  uint32_t line = 0;
  uint32_t col = 0;
  uint32_t end_line = 0;
  uint32_t end_col = 0;  // inclusive: the column of the span's last code point

  bool valid() const { return line != 0; }
  /// The smallest span covering both; both must be in the same file.
  static Span cover(const Span& first, const Span& last);
};

struct SourceFile {
  std::string path;  // as the user named it (or `std/x.kmr` for embedded modules)
  std::string text;  // valid UTF-8 once the lexer has accepted it
  std::vector<size_t> line_starts;

  std::string_view line_text(uint32_t line) const;
};

class SourceManager {
 public:
  /// Registers a file's text and returns its id for spans.
  uint32_t add(std::string path, std::string text);
  const SourceFile& file(uint32_t id) const { return *files_.at(id); }
  size_t size() const { return files_.size(); }

 private:
  std::vector<std::unique_ptr<SourceFile>> files_;
};

}  // namespace kmr::source

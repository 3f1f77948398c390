// UTF-8 validation with positions, so a bad byte is reported where an editor shows it.
#include "compiler/syntax/source_text_check.h"

#include <fmt/format.h>

namespace kmr::syntax {
namespace {

constexpr int kMaxEncodingErrors = 5;

// Length of the well-formed UTF-8 sequence at `text[i]`, or 0 (RFC 3629: no overlongs,
// no surrogates, nothing above U+10FFFF).
size_t utf8_sequence_length(std::string_view text, size_t i) {
  auto byte = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
  unsigned char c = byte(i);
  if (c < 0x80) return 1;
  size_t length = (c >= 0xC2 && c <= 0xDF) ? 2 : (c >= 0xE0 && c <= 0xEF) ? 3
                : (c >= 0xF0 && c <= 0xF4) ? 4 : 0;
  if (length == 0 || i + length > text.size()) return 0;
  for (size_t k = 1; k < length; ++k)
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
  unsigned char second = byte(i + 1);
  if (c == 0xE0 && second < 0xA0) return 0;  // overlong
  if (c == 0xED && second > 0x9F) return 0;  // surrogate
  if (c == 0xF0 && second < 0x90) return 0;  // overlong
  if (c == 0xF4 && second > 0x8F) return 0;  // above U+10FFFF
  return length;
}

}  // namespace

bool check_source_text(std::string_view text, uint32_t file, size_t max_bytes,
                       diag::DiagnosticSink& sink) {
  if (text.size() > max_bytes) {
    sink.report(source::Span{file, 0, 0, 0, 0}, diag::Code::file_too_large, text.size(), max_bytes);
    return false;
  }
  int errors = 0;
  uint32_t line = 1, col = 1;
  for (size_t i = 0; i < text.size() && errors < kMaxEncodingErrors;) {
    source::Span here{file, line, col, line, col};
    size_t length = utf8_sequence_length(text, i);
    if (length == 0) {
      sink.report(here, diag::Code::invalid_utf8,
                  fmt::format("{:02X}", static_cast<unsigned char>(text[i])));
      ++errors;
      length = 1;
    } else if (text[i] == '\0') {
      sink.report(here, diag::Code::nul_byte);
      ++errors;
    }
    if (text[i] == '\n') {
      ++line;
      col = 1;
    } else {
      ++col;
    }
    i += length;
  }
  return errors == 0;
}

}  // namespace kmr::syntax

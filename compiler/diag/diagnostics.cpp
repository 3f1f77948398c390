// Rendering of diagnostics with their source line and a caret under the span.
#include "compiler/diag/diagnostics.h"

#include <algorithm>

namespace kmr::diag {
namespace {

struct CodeEntry {
  std::string_view id;
  std::string_view format;
};

constexpr CodeEntry kCodes[] = {
#define X(code, name, format) {#code, format},
#include "compiler/diag/codes.def"
#undef X
};

// Columns count code points; the caret line must copy tabs so it lines up in a terminal.
std::string caret_line(std::string_view line, uint32_t col, uint32_t end_col) {
  std::string out;
  uint32_t current = 1;
  for (size_t i = 0; i < line.size() && current < col; ++current) {
    unsigned char c = static_cast<unsigned char>(line[i]);
    size_t length = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
    out += c == '\t' ? '\t' : ' ';
    i += length;
  }
  out += '^';
  for (uint32_t c = col + 1; c <= end_col; ++c) out += '~';
  return out;
}

std::string location(const Diagnostic& d, const source::SourceManager& sources) {
  if (d.span.file >= sources.size()) return "kmrc";
  const auto& file = sources.file(d.span.file);
  if (!d.span.valid()) return file.path;
  return fmt::format("{}:{}:{}", file.path, d.span.line, d.span.col);
}

std::string snippet(const source::Span& span, const source::SourceManager& sources) {
  if (!span.valid() || span.file >= sources.size()) return {};
  std::string_view line = sources.file(span.file).line_text(span.line);
  uint32_t end_col = span.end_line == span.line ? std::max(span.end_col, span.col) : span.col;
  return fmt::format("  {}\n  {}\n", line, caret_line(line, span.col, end_col));
}

}  // namespace

std::string_view code_id(Code code) { return kCodes[static_cast<size_t>(code)].id; }
std::string_view code_format(Code code) { return kCodes[static_cast<size_t>(code)].format; }
bool is_warning(Code code) { return code_id(code)[0] == 'W'; }

Diagnostic& DiagnosticSink::add(source::Span span, Code code, std::string message) {
  if (!is_warning(code)) ++errors_;
  diagnostics_.push_back(Diagnostic{code, span, std::move(message), {}});
  return diagnostics_.back();
}

std::vector<Diagnostic> DiagnosticSink::sorted() const {
  std::vector<Diagnostic> out = diagnostics_;
  std::stable_sort(out.begin(), out.end(), [](const Diagnostic& a, const Diagnostic& b) {
    if (a.span.file != b.span.file) return a.span.file < b.span.file;
    if (a.span.line != b.span.line) return a.span.line < b.span.line;
    return a.span.col < b.span.col;
  });
  return out;
}

std::string render(const Diagnostic& d, const source::SourceManager& sources) {
  std::string out = fmt::format("{}: {}[{}]: {}\n", location(d, sources),
                                d.is_error() ? "error" : "warning", code_id(d.code), d.message);
  out += snippet(d.span, sources);
  for (const auto& [span, text] : d.notes) {
    Diagnostic note{d.code, span, text, {}};
    out += fmt::format("{}: note: {}\n", location(note, sources), text);
    out += snippet(span, sources);
  }
  return out;
}

std::string render_all(const DiagnosticSink& sink, const source::SourceManager& sources) {
  std::string out;
  for (const auto& d : sink.sorted()) out += render(d, sources);
  if (sink.error_count() > 0 || sink.warning_count() > 0)
    out += fmt::format("{} error{}, {} warning{}\n", sink.error_count(),
                       sink.error_count() == 1 ? "" : "s", sink.warning_count(),
                       sink.warning_count() == 1 ? "" : "s");
  return out;
}

}  // namespace kmr::diag

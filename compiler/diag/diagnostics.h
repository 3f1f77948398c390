// Diagnostics as values: collected in a sink, sorted by location, rendered like a compiler's.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "compiler/source/source_manager.h"

namespace kmr::diag {

enum class Code {
#define X(code, name, format) name,
#include "compiler/diag/codes.def"
#undef X
};

/// `E031` for Code::undefined_name.
std::string_view code_id(Code code);
/// The message format of a code, as listed in codes.def.
std::string_view code_format(Code code);
bool is_warning(Code code);

struct Diagnostic {
  Code code;
  source::Span span;
  std::string message;
  std::vector<std::pair<source::Span, std::string>> notes;

  bool is_error() const { return !is_warning(code); }
};

/// Collects diagnostics from every phase. Phases keep going after an error; the driver
/// decides between phases whether to stop.
class DiagnosticSink {
 public:
  template <class... Args>
  Diagnostic& report(source::Span span, Code code, const Args&... args) {
    return add(span, code, fmt::vformat(code_format(code), fmt::make_format_args(args...)));
  }
  Diagnostic& add(source::Span span, Code code, std::string message);

  bool has_errors() const { return errors_ > 0; }
  size_t error_count() const { return errors_; }
  size_t warning_count() const { return diagnostics_.size() - errors_; }
  /// Sorted by file, line and column; ties keep their reporting order.
  std::vector<Diagnostic> sorted() const;

 private:
  std::vector<Diagnostic> diagnostics_;
  size_t errors_ = 0;
};

/// `path:line:col: error[E031]: message`, then the source line and a caret under the span.
std::string render(const Diagnostic& diagnostic, const source::SourceManager& sources);
/// All diagnostics in order, then a count line when there are any errors or warnings.
std::string render_all(const DiagnosticSink& sink, const source::SourceManager& sources);

}  // namespace kmr::diag

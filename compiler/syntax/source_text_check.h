// Checks raw source bytes before the lexer sees them: size, UTF-8 validity, NUL bytes.
#pragma once

#include <cstddef>
#include <string_view>

#include "compiler/diag/diagnostics.h"

namespace kmr::syntax {

/// Reports oversized files (E003), NUL bytes (E002) and invalid UTF-8 (E001, at most a few
/// per file), with 1-based code-point columns. Returns true when the text can be lexed.
bool check_source_text(std::string_view text, uint32_t file, size_t max_bytes,
                       diag::DiagnosticSink& sink);

}  // namespace kmr::syntax

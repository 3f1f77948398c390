// Turns a source file's text into an ast::Module, reporting lexical and syntax errors.
#pragma once

#include <cstddef>

#include "compiler/ast/ast.h"
#include "compiler/diag/diagnostics.h"

namespace kmr::syntax {

/// Bounds that keep hostile input from exhausting the stack or the clock.
struct ParseLimits {
  size_t max_bytes = 16u << 20;  // larger sources are refused before lexing
  int max_nesting = 128;         // brackets, braces and parentheses
  int max_operators = 1000;      // operators in one statement (each deepens the tree)
};

/// Parses the file `file` of `sources`.
/// Guarantees: never throws, never recurses deeper than the limits allow; every problem
/// becomes a diagnostic in `sink`. When any error was reported the module may be partial
/// (its declarations are those that parsed), and later phases should not run.
ast::Module parse_module(const source::SourceManager& sources, uint32_t file,
                         diag::DiagnosticSink& sink, const ParseLimits& limits = {});

}  // namespace kmr::syntax

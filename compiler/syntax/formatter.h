// `kmrc fmt`: prints a module back as canonical KMR source, keeping every comment.
#pragma once

#include <string>

#include "compiler/ast/ast.h"

namespace kmr::syntax {

/// Canonical source for `module`: one declaration per line (blank lines kept where the
/// source had them), two-space indentation, parentheses only where precedence needs them.
/// Guarantees: the output parses to the same AST (ast::dump without spans) and
/// format(parse(format(m))) == format(m).
std::string format_module(const ast::Module& module);

/// One expression as source text (used by diagnostics and the formatter).
std::string format_expr(const ast::Expr& expr);

}  // namespace kmr::syntax

// `kmrc emit ast`: the AST as an indented tree, one node per line.
#pragma once

#include <string>

#include "compiler/ast/ast.h"

namespace kmr::ast {

/// Dumps `module`. With `with_spans`, each node shows its `[line:col-end]`; without, the
/// dump depends only on structure (the formatter's round-trip tests compare those).
std::string dump(const Module& module, bool with_spans);

}  // namespace kmr::ast

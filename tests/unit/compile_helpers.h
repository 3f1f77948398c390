// Helpers that run the front end on source text and summarise what it reported.
#pragma once

#include <string>
#include <vector>

#include "compiler/driver/compilation.h"

namespace kmr::test {

/// One diagnostic as `E031@4:33`, for compact assertions.
std::string brief(const diag::Diagnostic& diagnostic);

/// Parses `text` (as file `name`) and, when it parsed, checks it without opening files.
/// Returns the diagnostics, sorted, in brief form.
std::vector<std::string> compile(const std::string& text, const std::string& name = "test.kmr");

/// As compile(), for a file on disk (its imports resolve relative to it).
std::vector<std::string> compile_file(const std::string& path);

/// True when `diagnostics` holds one whose brief form starts with `code` (e.g. "E041" or
/// "E041@9:8").
bool has(const std::vector<std::string>& diagnostics, const std::string& code);

/// The AST dump (without spans) of `text`, or the rendered diagnostics if it fails to parse.
std::string ast_of(const std::string& text);

/// The source of a file under the project root.
std::string read_project_file(const std::string& relative_path);

}  // namespace kmr::test

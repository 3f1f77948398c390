// A compilation: the root file, the modules it imports, their diagnostics and the checked
// program. This is what `kmrc` and the embedding API drive, phase by phase.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "compiler/ast/ast.h"
#include "compiler/diag/diagnostics.h"
#include "compiler/sema/checker.h"
#include "compiler/syntax/parser.h"

namespace kmr::driver {

struct Compilation {
  source::SourceManager sources;
  diag::DiagnosticSink diagnostics;
  std::vector<std::unique_ptr<ast::Module>> modules;  // the root file first
  sema::CheckedProgram program;
  /// Modules held in memory, by the name scripts import them by (an embedding
  /// application's `import "host";`); set before parsing. They shadow files of that name.
  std::map<std::string, std::string> virtual_modules;

  std::vector<const ast::Module*> module_list() const;
};

/// Reads and parses the file at `path` and, transitively, every module it imports (virtual
/// modules, `std/x` from the embedded stdlib, other paths relative to the importing file).
/// Returns false when any error was reported; the modules that parsed are kept.
bool parse_program(const std::string& path, Compilation& compilation, const syntax::ParseLimits& limits = {});

/// As parse_program, for source text that is not in a file (`name` labels diagnostics;
/// relative imports resolve against the current directory).
bool parse_program_text(const std::string& name, std::string text, Compilation& compilation,
                        const syntax::ParseLimits& limits = {});

/// Resolves and type-checks the parsed program. Returns false when any error was reported.
bool check_program(Compilation& compilation, const sema::CheckOptions& options = {});

enum class ReadResult { ok, too_large, failed };

/// Reads a whole file, refusing files over `max_bytes` before reading them (too_large).
/// On failure sets `error` to a message without the path.
ReadResult read_source_file(const std::string& path, size_t max_bytes, std::string& text, std::string& error);

}  // namespace kmr::driver

// Opens the files a script names (checkpoints, data sets) at check time, so that a missing
// or malformed file is reported at the call that names it, before anything runs.
#pragma once

#include <optional>
#include <string>

#include "compiler/ast/ast.h"
#include "compiler/diag/diagnostics.h"
#include "compiler/sema/checker.h"

namespace kmr::sema {

/// For `load(path, arch = mlp(act = a))` with constant arguments: opens the checkpoint
/// (a .safetensors file or a sharded index .json), reading only headers, and checks that
/// the architecture fits its tensors. Errors (E090) go to `sink` at the call. A
/// `bound_path` (an embedding application's binding) replaces the path the call names.
std::optional<ModelFacts> probe_model(const ast::CallExpr& load, diag::DiagnosticSink& sink,
                                      const std::string* bound_path = nullptr);

/// For `fashion_mnist(...)`, `idx(...)` and `csv(...)`: checks that the files exist and
/// their headers are valid (E091).
void probe_data(const ast::CallExpr& source, diag::DiagnosticSink& sink);

/// fnmatch-style matching of tensor names: `*` any run, `?` one character, `[...]` a class.
bool glob_matches(const std::string& glob, const std::string& name);

}  // namespace kmr::sema
